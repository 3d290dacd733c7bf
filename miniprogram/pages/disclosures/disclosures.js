// 信息公开提醒: the fund's public needs whose disclosure is overdue or due soon, most
// urgent first; each opens the form to post the missing update.
const api = require('../../utils/api.js')
const L = require('../../components/sec-common/labels.js')
const pagedList = require('../../behaviors/paged-list.js')

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
  // Back from posting an update the list reloads: it has changed.
  behaviors: [pagedList({ param: 'fund_id', key: 'fundId', missing: '缺少基金信息，请从工作台进入' })],

  data: {
    state: 'loading',
    message: '',
    items: [],
    overdueCount: 0
  },

  methods: {
    load() {
      if (!this.data.fundId) return Promise.resolve()
      const seq = (this.seq = (this.seq || 0) + 1)
      this.setData({ state: 'loading', message: '', moreError: '' })
      return api.get('/funds/' + this.data.fundId + '/disclosures', { limit: 50 }).then((page) => {
        if (seq !== this.seq) return
        this.setData(this.listPatch([], page))
      }).catch((err) => {
        if (seq !== this.seq) return
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    readMore(cursor) {
      return api.get('/funds/' + this.data.fundId + '/disclosures', { limit: 50, cursor })
        .then((page) => this.listPatch(this.data.items, page))
    },

    // The rows before plus the page's new ones, most urgent first.
    listPatch(before, page) {
      const fresh = ((page && page.items) || []).filter((d) => d && d.need_id)
        .map((d) => row(d, this.data.fundId))
      const seen = {}
      const items = before.concat(fresh).filter((r) => (seen[r.needId] ? false : (seen[r.needId] = true)))
      items.sort(byUrgency)
      return {
        state: items.length ? 'ready' : 'empty',
        message: items.length ? '' : '没有逾期或即将到期的信息公开，做得好！',
        items,
        overdueCount: items.filter((r) => r.overdue).length,
        nextCursor: (page && page.next_cursor) || null
      }
    },

    onOpen(e) {
      const url = e.currentTarget.dataset.url
      if (url) wx.navigateTo({ url })
    }
  }
})
