const api = require('../../utils/api')
const config = require('../../config')
const { yuan, toFen } = require('../../utils/money')
const { errorMessage } = require('../../utils/labels')
const subscribe = require('../../utils/subscribe')
const { keyFor, resetKey } = require('../../utils/idempotency')

const PRESETS = [1000, 5000, 10000]
const POLL_MS = 1500
const POLL_TRIES = 20

function requestPayment(payment) {
  return new Promise((resolve, reject) => {
    wx.requestPayment(Object.assign({}, payment, { success: resolve, fail: reject }))
  })
}

// Donate: amount, anonymous, message → order → pay → wait for paid → subscribe.
Component({
  data: {
    title: '',
    presets: PRESETS.map((fen) => ({ fen, text: yuan(fen).replace('.00', '') })),
    selected: PRESETS[0],
    otherText: '',
    amountError: '',
    anonymous: false,
    message: '',
    step: 'form', // form | paying | waiting | done | pending
    paidText: '',
    subscribed: false,
    canSubscribe: false,
    donationId: null,
    certificateNo: ''
  },
  methods: {
    onLoad(query) {
      query = query || {}
      this._target = query.need_id ? { need_id: Number(query.need_id) } : query.fund_id ? { fund_id: Number(query.fund_id) } : null
      this._spaceCode = query.space_code ? decodeURIComponent(query.space_code) : ''
      this._subscribeIds = config.subscribeTemplateIds()
      this.setData({ canSubscribe: this._subscribeIds.length > 0 })
      // config's ids win; else the backend's templates (read now: the consent tap cannot wait)
      const consent = subscribe.load().then(({ ids }) => {
        this._subscribeIds = ids
        this.setData({ canSubscribe: ids.length > 0 })
      })
      return Promise.all([consent, this.loadTitle()])
    },
    loadTitle() {
      if (!this._target) {
        this.setData({ title: '社区公益' })
        return Promise.resolve()
      }
      if (this._target.need_id) {
        return api.get('/needs/' + this._target.need_id)
          .then((n) => this.setData({ title: (n && n.title) || '' }))
          .catch(() => { /* the title is optional */ })
      }
      this.setData({ title: '社区基金' })
      return Promise.resolve()
    },
    onUnload() {
      this._stopped = true
      if (this._pollTimer) clearTimeout(this._pollTimer)
    },
    onPresetTap(e) {
      this.setData({ selected: Number(e.currentTarget.dataset.fen), amountError: '' })
    },
    onOtherTap() {
      this.setData({ selected: 'other', amountError: '' })
    },
    onOtherInput(e) {
      this.setData({ otherText: e.detail.value, selected: 'other', amountError: '' })
    },
    onAnonymousChange(e) {
      this.setData({ anonymous: !!e.detail.value })
    },
    onMessageInput(e) {
      this.setData({ message: e.detail.value })
    },
    amountFen() {
      return this.data.selected === 'other' ? toFen(this.data.otherText) : this.data.selected
    },
    body(amountFen) {
      const body = Object.assign({ amount_fen: amountFen, anonymous: this.data.anonymous, message: this.data.message.trim() }, this._target)
      if (this._spaceCode) body.space_code = this._spaceCode
      return body
    },
    onSubmit() {
      if (this.data.step !== 'form') return Promise.resolve()
      const amount = this.amountFen()
      if (!amount || amount < 1) {
        this.setData({ amountError: '请输入正确的金额，最多两位小数' })
        return Promise.resolve()
      }
      if (!this._target) {
        wx.showToast({ title: '请先选择要捐助的项目', icon: 'none' })
        return Promise.resolve()
      }
      const body = this.body(amount)
      this.setData({ step: 'paying' })
      return api.post('/donations', body, { idempotencyKey: keyFor(this, body) })
        .then((order) => {
          this._order = order
          return this.pay(order)
        })
        .then((paid) => {
          if (!paid) return null
          resetKey(this) // paid: a new donation gets a new key
          this.setData({ step: 'waiting', paidText: yuan(amount) })
          return this.waitPaid(this._order.id)
        })
        .catch((err) => {
          this.setData({ step: 'form' })
          wx.showToast({ title: errorMessage(err), icon: 'none' })
        })
    },
    // Resolves true when paid (or handed to WeChat Pay), false when the user cancelled.
    pay(order) {
      if (config.isDevelop()) {
        return api.post('/dev/sandbox-pay', { out_trade_no: order.out_trade_no })
          .then(() => true)
          .catch((err) => {
            if (err.status === 404) return this.wxPay(order)
            throw err
          })
      }
      return this.wxPay(order)
    },
    wxPay(order) {
      return requestPayment(order.payment || {}).then(() => true).catch((res) => {
        if (res && res.status !== undefined) throw res
        const msg = (res && res.errMsg) || ''
        if (msg.indexOf('cancel') >= 0) {
          this.setData({ step: 'form' })
          wx.showToast({ title: '已取消支付', icon: 'none' })
          return false
        }
        throw new api.ApiError({ status: 0, error: 'payment_failed', message: '支付未完成，请稍后重试' })
      })
    },
    waitPaid(id) {
      let tries = 0
      return new Promise((resolve) => {
        const tick = () => {
          if (this._stopped) return resolve(null)
          tries += 1
          api.get('/donations/' + id).then((d) => {
            if (d && d.status === 'paid') {
              this.setData({ step: 'done', donationId: d.id || id, certificateNo: d.certificate_no || '' })
              return resolve(d)
            }
            if (d && d.status === 'closed') {
              this.setData({ step: 'form' })
              wx.showToast({ title: '订单已关闭，请重新捐款', icon: 'none' })
              return resolve(null)
            }
            next()
          }).catch(next)
        }
        const next = () => {
          if (tries >= POLL_TRIES) {
            this.setData({ step: 'pending' })
            return resolve(null)
          }
          this._pollTimer = setTimeout(tick, POLL_MS)
        }
        tick()
      })
    },
    // Must run from a tap: WeChat asks the user for consent to notifications.
    onSubscribe() {
      return subscribe.ask(this._subscribeIds || []).then((accepted) => {
        if (!accepted.length) return
        this.setData({ subscribed: true })
        wx.showToast({ title: '已开启进展通知', icon: 'success' })
      }).catch((err) => {
        wx.showToast({ title: errorMessage(err), icon: 'none' })
      })
    },
    goDonations() {
      wx.switchTab({ url: '/pages/donations/donations' })
    },
    goBack() {
      wx.navigateBack()
    }
  }
})
