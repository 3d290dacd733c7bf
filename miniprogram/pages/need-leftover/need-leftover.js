// 结余处理: what is left of a completed or closed need, and the foundation admin's
// decision on it (GET/POST /needs/{id}/leftover): back to the donors (退还捐赠人) or into
// the fund's pool (转入基金池), with the committee's decision text, after a confirm dialog.
const api = require('../../utils/api.js')
const { yuan } = require('../../utils/money.js')
const L = require('../../components/sec-common/labels.js')
const { LEFTOVER_ACTION } = require('../../utils/labels.js')
const { loadWithId, confirmModal } = require('../../utils/page.js')
const { keyFor } = require('../../utils/idempotency.js')
const formErrors = require('../../behaviors/form-errors.js')

const DECISION_MAX = 500

const CHOICES = [
  { value: 'refund', label: LEFTOVER_ACTION.refund, hint: '按各笔捐赠可退款的金额原路退回捐赠人' },
  { value: 'to_pool', label: LEFTOVER_ACTION.to_pool, hint: '转入社区基金池，用于基金的其他公益项目' }
]

function leftoverView(l) {
  const status = l.status || ''
  const left = Number.isInteger(l.left_fen) ? l.left_fen : 0
  const d = l.decision
  return {
    status,
    statusText: L.label(L.NEED_STATUS, status),
    leftFen: left,
    left: yuan(left),
    refundableCount: l.refundable_count || 0,
    openRefunds: l.open_refunds || 0,
    ended: L.ENDED_NEED_STATUSES.indexOf(status) >= 0,
    decision: d ? {
      action: d.action,
      actionText: L.label(LEFTOVER_ACTION, d.action),
      amount: yuan(d.amount_fen),
      text: d.decision || '',
      created: L.shortTime(d.created_at)
    } : null
  }
}

Component({
  behaviors: [formErrors],

  data: {
    state: 'loading',
    message: '',
    needId: null,
    title: '',
    l: null,
    choices: CHOICES,
    action: '',
    decision: '',
    decisionMax: DECISION_MAX,
    formError: '',
    busy: false
  },

  methods: {
    onLoad(query) {
      query = query || {}
      const needId = L.idParam(query.need_id)
      this.setData({ needId })
      return loadWithId(this, needId, '缺少项目信息，请从工作台进入')
    },

    onRetry() {
      return this.load()
    },

    load() {
      const needId = this.data.needId
      this.setData({ state: 'loading', message: '' })
      const need = api.get('/needs/' + needId).catch(() => null) // the title is optional
      return Promise.all([need, api.get('/needs/' + needId + '/leftover')]).then(([n, leftover]) => {
        this.setData({
          state: 'ready',
          title: (n && n.title) || '项目 #' + needId,
          l: leftoverView(leftover || {})
        })
      }).catch((err) => {
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    onChoice(e) {
      this.setData({ action: e.currentTarget.dataset.value, formError: '' })
      this.clearError('action')
    },

    onDecision(e) {
      this.setData({ decision: e.detail.value, formError: '' })
      this.clearError('decision')
    },

    collect() {
      const errors = {}
      if (!LEFTOVER_ACTION[this.data.action]) errors.action = '请选择结余的处理方式'
      const decision = (this.data.decision || '').trim()
      if (!decision) errors.decision = '请填写管委会的决议内容'
      else if (decision.length > DECISION_MAX) errors.decision = '决议内容最多 ' + DECISION_MAX + ' 个字'
      if (Object.keys(errors).length) {
        this.setData({ errors })
        return null
      }
      return { action: this.data.action, decision }
    },

    onSubmit() {
      const l = this.data.l
      if (this.data.busy || !l || l.decision) return Promise.resolve()
      const body = this.collect()
      if (!body) return Promise.resolve()
      const what = body.action === 'refund'
        ? '将结余 ' + l.left + ' 原路退还给捐赠人'
        : '将结余 ' + l.left + ' 转入社区基金池'
      return confirmModal({
        title: '确认' + LEFTOVER_ACTION[body.action],
        content: what + '。此决定提交后不能更改，并将在项目账目中公开。',
        confirmText: '确认提交',
        confirmColor: '#d4380d',
        cancelText: '再想想'
      }).then((res) => {
        if (!res || !res.confirm) return null
        this.setData({ busy: true, formError: '', errors: {} })
        return api.post('/needs/' + this.data.needId + '/leftover', body, { idempotencyKey: keyFor(this, body) })
          .then((answer) => {
            this.setData({ busy: false, l: leftoverView(answer || {}) })
            wx.showToast({ title: '已提交', icon: 'success' })
          }, (err) => {
            this.setData({ busy: false, formError: L.errorMessage(err), errors: L.fieldErrors(err && err.errors) })
          })
      })
    },

    onDonations() {
      wx.navigateTo({ url: '/pages/need-donations/need-donations?need_id=' + this.data.needId })
    }
  }
})
