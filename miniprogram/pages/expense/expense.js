// 支出详情: one expense with its evidence, decisions, approval policy and the balance
// it would draw on; approve, reject, cancel, disburse it or give an attachment a covered
// copy (redact) when the API's `actions` allow. After cancel, disburse and redact the
// expense is read again.
const api = require('../../utils/api.js')
const { yuan } = require('../../utils/money.js')
const L = require('../../components/sec-common/labels.js')

function isPdf(upload) {
  return !!upload && (upload.content_type === 'application/pdf' || /\.pdf($|\?)/i.test(upload.url || ''))
}

function view(expense) {
  const e = expense || {}
  const attachments = (Array.isArray(e.attachments) ? e.attachments : [])
    .map((a) => {
      // A redacted copy is what the public sees; the team looks at the original.
      const up = (a && a.upload) || {}
      const red = (a && a.redacted) || null
      return {
        id: a && a.id,
        redacted: !!(red && red.id),
        redactedUrl: (red && red.url) || '',
        url: up.url || '',
        thumb: up.thumbnail_url || up.url || '',
        pdf: isPdf(up),
        name: up.original_name || 'PDF 文件',
        stage: a && a.stage === 'disbursement' ? '拨付凭证' : '支出凭证'
      }
    })
    .filter((a) => a.url)
  const approvals = (Array.isArray(e.approvals) ? e.approvals : []).map((a) => ({
    id: a.id,
    role: L.label(L.ROLE, a.role),
    approve: a.decision === 'approve',
    decision: a.decision === 'approve' ? '同意' : a.decision === 'reject' ? '驳回' : (a.decision || ''),
    comment: a.comment || '',
    time: L.shortTime(a.created_at)
  }))
  const actions = Array.isArray(e.actions) ? e.actions : []
  const available = Number.isInteger(e.available_fen) ? e.available_fen : null
  const amount = Number.isInteger(e.amount_fen) ? e.amount_fen : 0
  return {
    id: e.id,
    amount: yuan(amount),
    purpose: e.purpose || '（未填写用途）',
    payee: e.payee_name || '—',
    payeeType: L.label(L.PAYEE_TYPE, e.payee_type),
    status: e.status || '',
    statusLabel: L.label(L.EXPENSE_STATUS, e.status),
    fund: (e.fund && e.fund.name) || '',
    account: e.need && e.need.title ? '项目：' + e.need.title : '基金池',
    created: L.shortTime(e.created_at),
    needsCommittee: !!e.needs_committee,
    threshold: Number.isInteger(e.threshold_fen) ? yuan(e.threshold_fen) : '',
    approvalCount: Number.isInteger(e.approval_count) ? e.approval_count : approvals.filter((a) => a.approve).length,
    requiredApprovals: Number.isInteger(e.required_approvals) ? e.required_approvals : 1,
    available: available === null ? '' : yuan(available),
    short: available !== null && available < amount,
    rejectionReason: e.rejection_reason || '',
    voucher: e.voucher_no || '',
    canApprove: actions.indexOf('approve') >= 0,
    canReject: actions.indexOf('reject') >= 0,
    canCancel: actions.indexOf('cancel') >= 0,
    canDisburse: actions.indexOf('disburse') >= 0,
    canRedact: actions.indexOf('redact') >= 0,
    attachments,
    images: attachments.filter((a) => !a.pdf).map((a) => a.url),
    approvals
  }
}

Component({
  data: {
    state: 'loading',
    message: '',
    expenseId: null,
    e: null,
    comment: '',
    commentError: '',
    actionError: '',
    busy: false,
    notice: '',
    // cancel: a panel with the reason
    cancelOpen: false,
    cancelReason: '',
    cancelError: '',
    // disburse: voucher number and payment-proof photos
    voucher: '',
    proofIds: [],
    proofUploading: 0,
    disburseErrors: {},
    // redact: the attachment whose covered copy is uploading
    redactingId: null
  },

  methods: {
    onLoad(query) {
      const expenseId = L.idParam((query || {}).id)
      this.setData({ expenseId })
      if (!expenseId) {
        this.setData({ state: 'error', message: '缺少支出编号' })
        return Promise.resolve()
      }
      return this.load()
    },

    onRetry() {
      return this.load()
    },

    load() {
      if (!this.data.expenseId) return Promise.resolve()
      this.setData({ state: 'loading', message: '' })
      return api.get('/expenses/' + this.data.expenseId).then((expense) => {
        this.setData({ state: 'ready', e: view(expense) })
      }).catch((err) => {
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    onComment(e) {
      this.setData({ comment: e.detail.value, commentError: '' })
    },

    onPreview(e) {
      const url = e.currentTarget.dataset.url
      const images = this.data.e ? this.data.e.images : []
      if (!url || !images.length) return
      wx.previewImage({ urls: images, current: url })
    },

    onOpenPdf(e) {
      const url = e.currentTarget.dataset.url
      if (!url || !wx.downloadFile) return
      wx.downloadFile({
        url,
        success: (res) => {
          if (res.statusCode === 200 && wx.openDocument) {
            wx.openDocument({ filePath: res.tempFilePath, fileType: 'pdf' })
          } else {
            wx.showToast({ title: '文件打开失败', icon: 'none' })
          }
        },
        fail: () => wx.showToast({ title: '网络连接失败', icon: 'none' })
      })
    },

    onApprove() {
      return this.decide('approve')
    },

    onReject() {
      return this.decide('reject')
    },

    decide(action) {
      const e = this.data.e
      if (this.data.busy || !e) return Promise.resolve()
      if (action === 'approve' && !e.canApprove) return Promise.resolve()
      if (action === 'reject' && !e.canReject) return Promise.resolve()
      const comment = (this.data.comment || '').trim()
      if (action === 'reject' && !comment) {
        this.setData({ commentError: '驳回时请填写理由', actionError: '' })
        return Promise.resolve()
      }
      if (comment.length > 500) {
        this.setData({ commentError: '意见最多 500 个字' })
        return Promise.resolve()
      }
      this.setData({ busy: true, actionError: '', commentError: '', notice: '' })
      return api.post('/expenses/' + this.data.expenseId + '/' + action, { comment }).then((expense) => {
        this.setData({
          busy: false,
          comment: '',
          e: expense ? view(expense) : e,
          notice: action === 'approve' ? '已同意' : '已驳回'
        })
        wx.showToast({ title: action === 'approve' ? '已同意' : '已驳回', icon: 'success' })
      }).catch((err) => {
        const errors = L.fieldErrors(err && err.errors)
        this.setData({
          busy: false,
          actionError: L.errorMessage(err),
          commentError: errors.comment || ''
        })
      })
    },

    // Reads the expense again without leaving the page; falls back to `fallback`
    // (the action's own answer) when the read fails.
    refresh(fallback) {
      return api.get('/expenses/' + this.data.expenseId).then((expense) => {
        this.setData({ e: view(expense) })
      }).catch((err) => {
        if (fallback) this.setData({ e: view(fallback) })
        wx.showToast({ title: L.errorMessage(err), icon: 'none' })
      })
    },

    // Runs one action call, then reloads; the API's message is shown on failure.
    act(call, notice, onError) {
      this.setData({ busy: true, actionError: '', notice: '' })
      return call().then((answer) => {
        this.setData({ busy: false, notice })
        wx.showToast({ title: notice, icon: 'success' })
        return this.refresh(answer && answer.id ? answer : null).then(() => true)
      }).catch((err) => {
        this.setData({ busy: false, actionError: L.errorMessage(err) })
        if (onError) onError(err)
        return false
      })
    },

    // -- cancel --------------------------------------------------------------
    onCancelOpen() {
      if (this.data.busy || !this.data.e || !this.data.e.canCancel) return
      this.setData({ cancelOpen: true, cancelReason: '', cancelError: '', actionError: '' })
    },

    onCancelClose() {
      if (this.data.busy) return
      this.setData({ cancelOpen: false, cancelError: '' })
    },

    onCancelReason(e) {
      this.setData({ cancelReason: e.detail.value, cancelError: '' })
    },

    onCancelConfirm() {
      const e = this.data.e
      if (this.data.busy || !e || !e.canCancel) return Promise.resolve()
      const reason = (this.data.cancelReason || '').trim()
      if (reason.length < 4) {
        this.setData({ cancelError: '请填写撤销理由（至少 4 个字）' })
        return Promise.resolve()
      }
      if (reason.length > 500) {
        this.setData({ cancelError: '撤销理由最多 500 个字' })
        return Promise.resolve()
      }
      this.setData({ cancelError: '' })
      return this.act(
        () => api.post('/expenses/' + this.data.expenseId + '/cancel', { reason }),
        '已撤销',
        // shown in the panel the user is looking at, not twice
        (err) => this.setData({ actionError: '', cancelError: L.fieldErrors(err && err.errors).reason || L.errorMessage(err) })
      ).then((ok) => {
        if (ok) this.setData({ cancelOpen: false, cancelReason: '' })
      })
    },

    // -- disburse ------------------------------------------------------------
    onVoucher(e) {
      const errors = Object.assign({}, this.data.disburseErrors)
      delete errors.voucher_no
      this.setData({ voucher: e.detail.value, disburseErrors: errors })
    },

    onProof(e) {
      const errors = Object.assign({}, this.data.disburseErrors)
      delete errors.attachment_ids
      this.setData({ proofIds: e.detail.ids || [], proofUploading: e.detail.uploading || 0, disburseErrors: errors })
    },

    onDisburse() {
      const e = this.data.e
      if (this.data.busy || !e || !e.canDisburse) return Promise.resolve()
      const voucher = (this.data.voucher || '').trim()
      const errors = {}
      if (voucher.length < 2 || voucher.length > 64) errors.voucher_no = '请填写付款凭证号（2 到 64 个字符）'
      if (this.data.proofUploading) errors.attachment_ids = '付款凭证还在上传，请稍候'
      else if (!this.data.proofIds.length) errors.attachment_ids = '请至少上传一张付款凭证照片'
      if (Object.keys(errors).length) {
        this.setData({ disburseErrors: errors })
        return Promise.resolve()
      }
      this.setData({ disburseErrors: {} })
      return this.act(
        () => api.post('/expenses/' + this.data.expenseId + '/disburse', {
          voucher_no: voucher,
          attachment_ids: this.data.proofIds.slice(0, 9)
        }),
        '已拨付',
        (err) => this.setData({ disburseErrors: L.fieldErrors(err && err.errors) })
      ).then((ok) => {
        if (ok) this.setData({ voucher: '', proofIds: [], proofUploading: 0 })
      })
    },

    // -- redact --------------------------------------------------------------
    // Pick a photo with the personal details covered; it is published instead of the original.
    onRedact(ev) {
      const e = this.data.e
      const attachmentId = ev.currentTarget.dataset.id
      if (this.data.busy || !e || !e.canRedact || !attachmentId) return Promise.resolve()
      return new Promise((resolve) => {
        wx.chooseMedia({
          count: 1,
          mediaType: ['image'],
          sourceType: ['album', 'camera'],
          sizeType: ['compressed'],
          success: (res) => {
            const file = res && res.tempFiles && res.tempFiles[0]
            resolve(file && file.tempFilePath ? file.tempFilePath : null)
          },
          fail: () => resolve(null) // the user cancelled
        })
      }).then((path) => {
        if (!path) return null
        this.setData({ redactingId: attachmentId })
        return this.act(() => api.upload(path).then((up) => {
          if (!up || !up.id) throw new api.ApiError({ message: '上传失败，请重试' })
          return api.post('/expenses/' + this.data.expenseId + '/redactions', {
            attachment_id: attachmentId,
            upload_id: up.id
          })
        }), '已更换公开副本').then(() => this.setData({ redactingId: null }))
      })
    },

    onPreviewCopy(ev) {
      const url = ev.currentTarget.dataset.url
      if (url) wx.previewImage({ urls: [url], current: url })
    }
  }
})
