const api = require('../../utils/api')
const config = require('../../config')
const { yuan } = require('../../utils/money')
const { DONATION_STATUS, shortTime, errorMessage } = require('../../utils/labels')

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
    allocatedText: yuan(d.allocated_fen || 0),
    time: shortTime(d.paid_at || d.created_at),
    message: d.message || '',
    anonymous: !!d.anonymous,
    allocations
  }
}

// My donations, newest first, with where each one's money went.
Component({
  data: { state: 'loading', message: '', items: [], nextCursor: null, loadingMore: false, isDevelop: false, isStaff: false },
  methods: {
    onLoad() {
      this.setData({ isDevelop: config.isDevelop() })
      return this.load(true)
    },
    onShow() {
      const user = api.currentUser()
      this.setData({ isStaff: !!(user && user.roles && user.roles.length) })
      if (this._loaded) return this.load(true)
      return Promise.resolve()
    },
    load(reset) {
      if (reset && !this.data.items.length) this.setData({ state: 'loading' })
      if (!reset) this.setData({ loadingMore: true })
      return api.get('/me/donations', { cursor: reset ? null : this.data.nextCursor }).then((page) => {
        this._loaded = true
        const got = ((page && page.items) || []).map(viewDonation)
        const items = reset ? got : this.data.items.concat(got)
        this.setData({
          items,
          nextCursor: (page && page.next_cursor) || null,
          loadingMore: false,
          state: items.length ? 'ready' : 'empty',
          message: items.length ? '' : '还没有捐赠记录，去首页看看身边的项目吧'
        })
      }).catch((err) => {
        if (reset) this.setData({ state: 'error', message: errorMessage(err), loadingMore: false })
        else {
          this.setData({ loadingMore: false })
          wx.showToast({ title: errorMessage(err), icon: 'none' })
        }
      })
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
