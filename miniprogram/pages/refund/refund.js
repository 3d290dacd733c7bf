// 退款: the foundation admin refunds part or all of a donation (POST
// /donations/{id}/refunds). The amount defaults to what can be refunded; the same form
// keeps its Idempotency-Key, so a retry after a lost answer cannot refund twice. After
// the request the page polls GET /donations/{id}/refunds until WeChat settles it.
const api = require('../../utils/api.js')
const { yuan, toFen } = require('../../utils/money.js')
const L = require('../../components/sec-common/labels.js')
const { REFUND_STATUS } = require('../../utils/labels.js')
const { confirmModal } = require('../../utils/page.js')
const { keyFor } = require('../../utils/idempotency.js')
const formErrors = require('../../behaviors/form-errors.js')

const POLL_MS = 1500
const POLL_TRIES = 8
const REASON_MAX = 200
const SETTLED = ['succeeded', 'failed']

// 1234 -> "12.34": the amount as typed in the input (no ¥, no thousands commas).
function plainYuan(fen) {
  return yuan(fen).replace('¥', '').replace(/,/g, '')
}

function refundView(r) {
  return {
    id: r.id,
    amount: yuan(r.amount_fen),
    reason: r.reason || '',
    status: r.status,
    statusText: L.label(REFUND_STATUS, r.status),
    failure: r.status === 'failed' ? (r.failure || '退款失败，请稍后重试或联系平台') : '',
    created: L.shortTime(r.created_at),
    settled: L.shortTime(r.settled_at)
  }
}

Component({
  behaviors: [formErrors],

  data: {
    state: 'loading',
    message: '',
    donationId: null,
    needId: null,
    name: '',
    refundableFen: 0,
    refundable: '',
    form: { amount: '', reason: '' },
    amountShown: '',
    reasonMax: REASON_MAX,
    formError: '',
    retryHint: false,
    busy: false,
    step: 'form', // form | done
    refund: null,
    polling: false,
    pollTimedOut: false,
    history: [],
    historyError: ''
  },

  methods: {
    onLoad(query) {
      query = query || {}
      const donationId = L.idParam(query.donation_id)
      const refundableFen = parseInt(query.refundable_fen, 10)
      if (!donationId) {
        this.setData({ state: 'error', message: '缺少捐赠信息，请从项目捐赠列表进入' })
        return Promise.resolve()
      }
      const known = Number.isInteger(refundableFen) && refundableFen > 0 ? refundableFen : 0
      this.setData({
        state: 'ready',
        donationId,
        needId: L.idParam(query.need_id),
        name: query.name ? decodeURIComponent(String(query.name)) : '爱心人士',
        refundableFen: known,
        refundable: known ? yuan(known) : '',
        'form.amount': known ? plainYuan(known) : '',
        amountShown: known ? yuan(known) : ''
      })
      return this.loadHistory()
    },

    onUnload() {
      this.stopped = true
      if (this.pollTimer) clearTimeout(this.pollTimer)
    },

    // The donation's earlier refunds, so nobody refunds the same thing twice by mistake.
    loadHistory() {
      return api.get('/donations/' + this.data.donationId + '/refunds').then((answer) => {
        this.setData({ history: ((answer && answer.items) || []).map(refundView), historyError: '' })
      }, (err) => {
        this.setData({ historyError: '退款记录加载失败：' + L.errorMessage(err) })
      })
    },

    onInput(e) {
      const field = e.currentTarget.dataset.field
      const value = e.detail.value
      this.setData({ ['form.' + field]: value, formError: '', retryHint: false })
      if (field === 'amount') {
        const fen = toFen(value)
        this.setData({ amountShown: fen ? yuan(fen) : '' })
      }
      this.clearError(field === 'amount' ? 'amount_fen' : field)
    },

    onAll() {
      if (!this.data.refundableFen) return
      this.setData({ 'form.amount': plainYuan(this.data.refundableFen), amountShown: this.data.refundable })
      this.clearError('amount_fen')
    },

    // The body for the API, or null with the field errors shown. Money in fen only.
    collect() {
      const f = this.data.form
      const errors = {}
      const amount = toFen(f.amount)
      if (amount === null || amount < 1) errors.amount_fen = '请输入退款金额（元），最多两位小数'
      else if (this.data.refundableFen && amount > this.data.refundableFen) {
        errors.amount_fen = '退款金额不能超过可退款金额 ' + this.data.refundable
      }
      // one line, as the API wants it: line breaks typed in the box become spaces
      const reason = (f.reason || '').replace(/\s*[\r\n]+\s*/g, ' ').trim()
      if (!reason) errors.reason = '请填写退款原因'
      else if (reason.length > REASON_MAX) errors.reason = '退款原因最多 ' + REASON_MAX + ' 个字'
      if (Object.keys(errors).length) {
        this.setData({ errors, formError: '' })
        return null
      }
      return { amount_fen: amount, reason }
    },

    onSubmit() {
      if (this.data.busy || this.data.step !== 'form') return Promise.resolve()
      const body = this.collect()
      if (!body) return Promise.resolve()
      return confirmModal({
        title: '确认退款',
        content: '向' + this.data.name + '退款 ' + yuan(body.amount_fen) + '，原因：' + body.reason +
          '。款项将原路退回捐赠人，提交后不能撤销。',
        confirmText: '确认退款',
        confirmColor: '#d4380d',
        cancelText: '再想想'
      }).then((res) => {
        if (!res || !res.confirm) return null
        return this.send(body)
      })
    },

    send(body) {
      this.setData({ busy: true, formError: '', retryHint: false, errors: {} })
      return api.post('/donations/' + this.data.donationId + '/refunds', body, { idempotencyKey: keyFor(this, body) })
        .then((refund) => {
          this.setData({ busy: false, step: 'done', refund: refundView(refund || {}) })
          wx.showToast({ title: '退款已提交', icon: 'success' })
          if (refund && SETTLED.indexOf(refund.status) >= 0) return null
          return this.poll(refund && refund.id)
        })
        .catch((err) => {
          this.setData({
            busy: false,
            formError: L.errorMessage(err),
            // a lost answer: the same form is sent again with the same key
            retryHint: !!err && (err.status === 0 || err.status >= 500),
            errors: L.fieldErrors(err && err.errors)
          })
        })
    },

    // Asks a few times until WeChat has settled the refund (succeeded or failed).
    poll(refundId) {
      let tries = 0
      this.setData({ polling: true, pollTimedOut: false })
      return new Promise((resolve) => {
        const next = () => {
          if (tries >= POLL_TRIES) {
            this.setData({ polling: false, pollTimedOut: true })
            return resolve(null)
          }
          this.pollTimer = setTimeout(tick, POLL_MS)
        }
        const tick = () => {
          if (this.stopped) return resolve(null)
          tries += 1
          api.get('/donations/' + this.data.donationId + '/refunds').then((answer) => {
            const list = (answer && answer.items) || []
            const mine = list.find((r) => r && r.id === refundId)
            if (mine) this.setData({ refund: refundView(mine) })
            if (mine && SETTLED.indexOf(mine.status) >= 0) {
              this.setData({ polling: false, history: list.map(refundView) })
              return resolve(mine)
            }
            next()
          }, next)
        }
        next()
      })
    },

    onBack() {
      wx.navigateBack()
    }
  }
})
