// 项目捐赠: a need's donations for the foundation admin, newest first, each with what can
// still be refunded and a 退款 action (pages/refund); completed or closed needs link to
// the leftover page (pages/need-leftover).
const api = require('../../utils/api.js')
const { yuan } = require('../../utils/money.js')
const L = require('../../components/sec-common/labels.js')
const { DONATION_STATUS } = require('../../utils/labels.js')
const pagedList = require('../../behaviors/paged-list.js')

const PAGE_SIZE = 20

function donationRow(d) {
  const refundable = Number.isInteger(d.refundable_fen) ? d.refundable_fen : 0
  return {
    id: d.id,
    name: d.public_name || '爱心人士',
    amount: yuan(d.amount_fen),
    status: d.status,
    statusText: L.label(DONATION_STATUS, d.status),
    refunded: d.refunded_fen ? yuan(d.refunded_fen) : '',
    refunding: d.refunding_fen ? yuan(d.refunding_fen) : '',
    allocated: yuan(d.allocated_fen || 0),
    refundable: yuan(refundable),
    refundableFen: refundable,
    paid: L.shortTime(d.paid_at),
    pooled: !!d.pooled,
    message: d.message || ''
  }
}

Component({
  // Back from a refund the list reloads: the amounts have moved.
  behaviors: [pagedList({ param: 'need_id', key: 'needId', missing: '缺少项目信息，请从工作台进入' })],

  data: {
    state: 'loading',
    message: '',
    title: '',
    needStatus: '',
    canLeftover: false,
    items: []
  },

  methods: {
    load() {
      const needId = this.data.needId
      const seq = (this.seq = (this.seq || 0) + 1)
      if (!this.data.items.length) this.setData({ state: 'loading', message: '' })
      const need = api.get('/needs/' + needId).catch(() => null) // the title is optional
      return Promise.all([need, api.get('/needs/' + needId + '/donations', { limit: PAGE_SIZE })])
        .then(([n, page]) => {
          if (seq !== this.seq) return
          const items = ((page && page.items) || []).map(donationRow)
          const status = (n && n.status) || ''
          this.setData({
            title: (n && n.title) || '项目 #' + needId,
            needStatus: L.label(L.NEED_STATUS, status),
            canLeftover: L.ENDED_NEED_STATUSES.indexOf(status) >= 0,
            items,
            nextCursor: (page && page.next_cursor) || null,
            loadingMore: false,
            moreError: '',
            state: items.length ? 'ready' : 'empty',
            message: items.length ? '' : '这个项目还没有已支付的捐赠'
          })
        })
        .catch((err) => {
          if (seq !== this.seq) return
          this.setData({ state: 'error', message: L.errorMessage(err), items: [], nextCursor: null })
        })
    },

    readMore(cursor) {
      return api.get('/needs/' + this.data.needId + '/donations', { limit: PAGE_SIZE, cursor })
        .then((page) => ({
          items: this.data.items.concat(((page && page.items) || []).map(donationRow)),
          nextCursor: (page && page.next_cursor) || null
        }))
    },

    onRefund(e) {
      const row = this.data.items[Number(e.currentTarget.dataset.index)]
      if (!row || row.refundableFen < 1) return
      wx.navigateTo({
        url: '/pages/refund/refund?donation_id=' + row.id + '&need_id=' + this.data.needId +
          '&refundable_fen=' + row.refundableFen + '&name=' + encodeURIComponent(row.name)
      })
    },

    onLeftover() {
      wx.navigateTo({ url: '/pages/need-leftover/need-leftover?need_id=' + this.data.needId })
    }
  }
})
