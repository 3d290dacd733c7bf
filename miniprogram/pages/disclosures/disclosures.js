// 信息公开提醒: the fund's public needs whose disclosure is overdue or due soon, most
// urgent first; each opens the form to post the missing update.
const api = require('../../utils/api.js')
const L = require('../../components/sec-common/labels.js')

// Overdue first (longest overdue on top), then by the day it is due; no date goes last.
function byUrgency(a, b) {
  if (a.overdue !== b.overdue) return a.overdue ? -1 : 1
  if (a.overdue && a.daysOverdue !== b.daysOverdue) return b.daysOverdue - a.daysOverdue
  if (a.due !== b.due) {
    if (!a.due) return 1
    if (!b.due) return -1
    return a.due < b.due ? -1 : 1
  }
  return a.needId - b.needId
}

function row(duty, fundId) {
  const kind = L.disclosureKind(duty.status)
  return {
    needId: duty.need_id,
    title: duty.title || '项目 #' + duty.need_id,
    overdue: duty.state === 'overdue',
    state: L.label(L.DISCLOSURE_STATE, duty.state),
    status: L.label(L.NEED_STATUS, duty.status),
    due: duty.next_due || '',
    daysOverdue: Number.isInteger(duty.days_overdue) ? duty.days_overdue : 0,
    last: duty.last_disclosed_on || '',
    action: kind === 'final' ? '发布结项报告' : '发布信息公开',
    url: '/pages/update-new/update-new?fund_id=' + fundId + '&need_id=' + duty.need_id + '&kind=' + kind
  }
}

Component({
  data: {
    state: 'loading',
    message: '',
    fundId: null,
    items: [],
    overdueCount: 0,
    nextCursor: null,
    loadingMore: false,
    moreError: ''
  },

  methods: {
    onLoad(query) {
      const fundId = L.idParam((query || {}).fund_id)
      this.shown = false
      this.setData({ fundId })
      if (!fundId) {
        this.setData({ state: 'error', message: '缺少基金信息，请从工作台进入' })
        return Promise.resolve()
      }
      return this.load()
    },

    onShow() {
      // Back from posting an update: the list has changed.
      const reload = this.shown && this.data.fundId ? this.load() : Promise.resolve()
      this.shown = true
      return reload
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    onRetry() {
      return this.load()
    },

    load() {
      if (!this.data.fundId) return Promise.resolve()
      this.setData({ state: 'loading', message: '', moreError: '' })
      return api.get('/funds/' + this.data.fundId + '/disclosures', { limit: 50 }).then((page) => {
        this.show([], page)
      }).catch((err) => {
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    show(before, page) {
      const fresh = ((page && page.items) || []).filter((d) => d && d.need_id)
        .map((d) => row(d, this.data.fundId))
      const seen = {}
      const items = before.concat(fresh).filter((r) => (seen[r.needId] ? false : (seen[r.needId] = true)))
      items.sort(byUrgency)
      this.setData({
        state: items.length ? 'ready' : 'empty',
        message: items.length ? '' : '没有逾期或即将到期的信息公开，做得好！',
        items,
        overdueCount: items.filter((r) => r.overdue).length,
        nextCursor: (page && page.next_cursor) || null
      })
    },

    onMore() {
      if (this.data.loadingMore || !this.data.nextCursor) return Promise.resolve()
      this.setData({ loadingMore: true, moreError: '' })
      return api.get('/funds/' + this.data.fundId + '/disclosures', { limit: 50, cursor: this.data.nextCursor })
        .then((page) => {
          this.setData({ loadingMore: false })
          this.show(this.data.items, page)
        })
        .catch((err) => this.setData({ loadingMore: false, moreError: L.errorMessage(err) }))
    },

    onReachBottom() {
      return this.onMore()
    },

    onOpen(e) {
      const url = e.currentTarget.dataset.url
      if (url) wx.navigateTo({ url })
    }
  }
})
