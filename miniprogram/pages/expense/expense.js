// 支出详情: one expense with its evidence, decisions, approval policy and the balance
// it would draw on; approve or reject it when the API's `actions` allow.
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
      return {
        id: a && a.id,
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
    notice: ''
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
    }
  }
})
