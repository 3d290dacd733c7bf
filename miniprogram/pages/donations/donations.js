const api = require('../../utils/api')
const config = require('../../config')
const subscribe = require('../../utils/subscribe')
const { yuan } = require('../../utils/money')
const { DONATION_STATUS, REFUND_STATUS, shortTime, errorMessage } = require('../../utils/labels')

// Donations whose refunds are worth listing: one in flight or one settled.
const REFUND_STATUSES = ['refunding', 'refunded', 'partially_refunded']

function viewRefund(r) {
  return {
    id: r.id,
    amountText: yuan(r.amount_fen || 0),
    reason: r.reason || '',
    status: r.status,
    statusText: REFUND_STATUS[r.status] || r.status || '',
    failure: r.status === 'failed' ? (r.failure || '') : '',
    time: shortTime(r.settled_at || r.created_at)
  }
}

function viewDonation(d) {
  const allocations = (d.allocations || []).map((a) => ({
    expenseId: a.expense_id, purpose: a.purpose || '支出', amountText: yuan(a.amount_fen || 0), time: shortTime(a.disbursed_at)
  }))
  return {
    id: d.id,
    needId: d.need_id || null,
    amountText: yuan(d.amount_fen || 0),
    statusText: DONATION_STATUS[d.status] || d.status || '',
    status: d.status,
    refundedText: d.refunded_fen ? yuan(d.refunded_fen) : '',
    refundingText: d.refunding_fen ? yuan(d.refunding_fen) : '',
    allocatedText: yuan(d.allocated_fen || 0),
    time: shortTime(d.paid_at || d.created_at),
    message: d.message || '',
    anonymous: !!d.anonymous,
    certificateNo: d.certificate_no || '',
    hasRefunds: REFUND_STATUSES.indexOf(d.status) >= 0 || !!d.refunded_fen || !!d.refunding_fen,
    refunds: [],
    refundsError: '',
    allocations
  }
}

// My donations, newest first, with where each one's money went, refunds and certificates.
Component({
  data: {
    state: 'loading', message: '', items: [], nextCursor: null, loadingMore: false, isDevelop: false, isStaff: false,
    canSubscribe: false, subscribed: false, remaining: 0
  },
  methods: {
    onLoad() {
      this.setData({ isDevelop: config.isDevelop() })
      return this.load(true).then(() => this.loadConsent())
    },
    onShow() {
      const user = api.currentUser()
      this.setData({ isStaff: !!(user && user.roles && user.roles.length) })
      if (this._loaded) return this.load(true)
      return Promise.resolve()
    },
    // The consent button needs its template ids before the tap (WeChat's rule).
    loadConsent() {
      return subscribe.load().then(({ ids, consents }) => {
        this._subscribeIds = ids
        const remaining = ids.reduce((sum, id) => sum + (consents[id] || 0), 0)
        this.setData({ canSubscribe: ids.length > 0, remaining })
      })
    },
    load(reset) {
      if (reset && !this.data.items.length) this.setData({ state: 'loading' })
      if (!reset) this.setData({ loadingMore: true })
      return api.get('/me/donations', { cursor: reset ? null : this.data.nextCursor }).then((page) => {
        this._loaded = true
        const got = ((page && page.items) || []).map(viewDonation)
        const offset = reset ? 0 : this.data.items.length
        const items = reset ? got : this.data.items.concat(got)
        this.setData({
          items,
          nextCursor: (page && page.next_cursor) || null,
          loadingMore: false,
          state: items.length ? 'ready' : 'empty',
          message: items.length ? '' : '还没有捐赠记录，去首页看看身边的项目吧'
        })
        return this.loadRefunds(got, offset)
      }).catch((err) => {
        if (reset) this.setData({ state: 'error', message: errorMessage(err), loadingMore: false })
        else {
          this.setData({ loadingMore: false })
          wx.showToast({ title: errorMessage(err), icon: 'none' })
        }
      })
    },
    // Each refunded or refunding donation's refunds, with reason and status; a failure
    // shows beside that donation only.
    loadRefunds(got, offset) {
      return Promise.all(got.map((item, i) => {
        if (!item.hasRefunds) return null
        const at = 'items[' + (offset + i) + ']'
        return api.get('/donations/' + item.id + '/refunds').then((answer) => {
          if (!this.data.items[offset + i] || this.data.items[offset + i].id !== item.id) return
          const refunds = ((answer && answer.items) || []).map(viewRefund)
          this.setData({ [at + '.refunds']: refunds, [at + '.refundsError']: '' })
        }, (err) => {
          if (!this.data.items[offset + i] || this.data.items[offset + i].id !== item.id) return
          this.setData({ [at + '.refundsError']: '退款记录加载失败：' + errorMessage(err) })
        })
      }))
    },
    onRetry() {
      return this.load(true)
    },
    onPullDownRefresh() {
      return this.load(true).then(() => wx.stopPullDownRefresh())
    },
    onReachBottom() {
      if (!this.data.nextCursor || this.data.loadingMore) return Promise.resolve()
      return this.load(false)
    },
    // Must run from a tap: WeChat asks the user for consent to notifications.
    onSubscribe() {
      return subscribe.ask(this._subscribeIds || []).then((accepted) => {
        if (!accepted.length) return null
        this.setData({ subscribed: true })
        wx.showToast({ title: '已开启进展通知', icon: 'success' })
        return this.loadConsent()
      }).catch((err) => {
        wx.showToast({ title: errorMessage(err), icon: 'none' })
      })
    },
    onNeedTap(e) {
      const id = e.currentTarget.dataset.id
      if (id) wx.navigateTo({ url: '/pages/need/need?id=' + id })
    },
    goMe() {
      wx.navigateTo({ url: '/pages/me/me' })
    },
    goWorkbench() {
      wx.navigateTo({ url: '/pages/workbench/workbench' })
    },
    goDevLogin() {
      wx.navigateTo({ url: '/pages/dev-login/dev-login' })
    }
  }
})
