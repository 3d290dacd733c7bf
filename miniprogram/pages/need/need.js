const api = require('../../utils/api')
const { yuan } = require('../../utils/money')
const { NEED_STATUS, DISCLOSURE_STATE, categoryLabel, shortTime, errorMessage } = require('../../utils/labels')

const POLL_MS = 5000

function isImage(e) {
  return !e.content_type || e.content_type.indexOf('image/') === 0
}

function viewNeed(n) {
  const disclosure = n.disclosure || {}
  const overdue = !!n.disclosure_overdue || disclosure.state === 'overdue'
  return {
    id: n.id,
    title: n.title || '',
    story: n.story || '',
    status: n.status,
    statusText: NEED_STATUS[n.status] || '',
    categoryText: n.category_label || categoryLabel(n.category),
    regionName: (n.region && n.region.name) || '',
    fundName: (n.fund && n.fund.name) || '',
    fundId: (n.fund && n.fund.id) || null,
    images: Array.isArray(n.images) ? n.images : [],
    goalText: yuan(n.goal_fen || 0),
    beneficiaryCount: n.beneficiary_count || 0,
    deadline: n.deadline || '',
    budgetLines: (n.budget_lines || []).map((b) => ({ item: b.item, amountText: yuan(b.amount_fen || 0) })),
    foundationName: n.foundation_name || (n.foundation && n.foundation.name) || '',
    filingNumber: n.filing_number || '',
    disclosureText: DISCLOSURE_STATE[disclosure.state] || '',
    disclosureNextDue: disclosure.next_due || '',
    disclosureLast: disclosure.last_disclosed_on || '',
    overdue,
    closeReason: n.close_reason || '',
    canDonate: n.status === 'fundraising',
    updates: (n.updates || []).map((u) => ({
      id: u.id,
      text: u.text || '',
      kind: u.kind,
      kindText: u.kind === 'final' ? '结项公开' : u.kind === 'disclosure' ? '信息公开' : '进展',
      time: shortTime(u.created_at),
      photos: (u.images || []).map((i) => ({ url: i.url, thumb: i.thumbnail_url || i.url }))
    }))
  }
}

// New progress figures over the last ones: a field missing or not an integer keeps its
// last value, so a partial or odd answer never blanks the bar.
function mergeProgress(last, p) {
  const out = Object.assign({}, last)
  ;['raised_fen', 'goal_fen', 'percent', 'donation_count'].forEach((key) => {
    if (Number.isInteger(p[key]) && p[key] >= 0) out[key] = p[key]
  })
  return out
}

function viewIncome(i) {
  return {
    id: i.id,
    donor: i.donor || '爱心人士',
    amountText: yuan(i.amount_fen || 0),
    refundedText: i.refunded_fen ? yuan(i.refunded_fen) : '',
    message: i.message || '',
    time: shortTime(i.paid_at),
    spaceName: (i.space && i.space.name) || ''
  }
}

function viewExpense(e) {
  const evidence = (e.evidence || []).map((v) => ({
    url: v.url, thumb: v.thumbnail_url || v.url, image: isImage(v),
    stageText: v.stage === 'disbursement' ? '付款凭证' : '票据'
  }))
  return {
    id: e.id,
    purpose: e.purpose || '',
    payee: e.payee || '',
    amountText: yuan(e.amount_fen || 0),
    time: shortTime(e.disbursed_at),
    voucherNo: e.voucher_no || '',
    evidence
  }
}

// Need detail: story, budget, live progress, ledger, updates, disclosure, share.
Component({
  data: {
    state: 'loading', message: '',
    need: null,
    progress: { raised_fen: 0, goal_fen: 0, percent: 0, donation_count: 0 },
    // the last progress answer came from PostgreSQL while the live counter is down
    progressStale: false,
    tab: 'income',
    ledgerState: 'loading', ledgerMessage: '',
    incomes: [], incomeCursor: null, expenses: [], expenseCursor: null,
    balanceText: '', incomeTotalText: '', spentText: '', loadingMore: false
  },
  methods: {
    onLoad(query) {
      query = query || {}
      this._id = Number(query.id)
      this._spaceCode = query.space_code || ''
      if (!this._id) {
        this.setData({ state: 'error', message: '项目不存在' })
        return Promise.resolve()
      }
      if (wx.showShareMenu) wx.showShareMenu({ menus: ['shareAppMessage', 'shareTimeline'] })
      this._visible = true
      return Promise.all([this.load(), this.loadLedger(true)])
    },
    onShow() {
      this._visible = true
      if (this.data.need) this.startPolling()
    },
    onHide() {
      this._visible = false
      this.stopPolling()
    },
    onUnload() {
      this._visible = false
      this.stopPolling()
    },
    load() {
      if (!this.data.need) this.setData({ state: 'loading' })
      return api.get('/needs/' + this._id).then((n) => {
        n = n || {}
        this.setData({
          state: 'ready',
          need: viewNeed(n),
          progress: {
            raised_fen: n.raised_fen || 0, goal_fen: n.goal_fen || 0,
            percent: n.percent || 0, donation_count: n.donation_count || 0
          }
        })
        if (n.title && wx.setNavigationBarTitle) wx.setNavigationBarTitle({ title: n.title })
        if (this._visible) this.startPolling()
      }).catch((err) => {
        if (!this.data.need) this.setData({ state: 'error', message: errorMessage(err) })
        else wx.showToast({ title: errorMessage(err), icon: 'none' })
      })
    },
    startPolling() {
      if (this._timer) return
      this._timer = setInterval(() => this.pollProgress(), POLL_MS)
    },
    stopPolling() {
      if (this._timer) clearInterval(this._timer)
      this._timer = null
    },
    pollProgress() {
      if (this._polling) return Promise.resolve()
      this._polling = true
      return api.get('/needs/' + this._id + '/progress').then((p) => {
        this._polling = false
        if (!p || typeof p !== 'object' || !this._timer) return
        this.setData({
          progress: mergeProgress(this.data.progress, p),
          progressStale: p.stale === true
        })
      }).catch(() => { this._polling = false /* keep the last figures; next tick retries */ })
    },
    loadLedger(reset) {
      const query = reset ? {} : { cursor: this.data.incomeCursor }
      if (reset) this.setData({ ledgerState: 'loading' })
      return api.get('/needs/' + this._id + '/ledger', query).then((l) => {
        l = l || {}
        const income = l.income || {}
        const incomes = (reset ? [] : this.data.incomes).concat((income.items || []).map(viewIncome))
        const update = {
          incomes,
          incomeCursor: income.next_cursor || null,
          ledgerState: 'ready',
          loadingMore: false
        }
        if (reset) {
          update.expenses = (l.expenses || []).map(viewExpense)
          update.expenseCursor = l.expenses_next_cursor || null
          update.balanceText = yuan(l.balance_fen || 0)
          update.incomeTotalText = yuan(l.income_fen || 0)
          update.spentText = yuan(l.spent_fen || 0)
        }
        this.setData(update)
      }).catch((err) => {
        if (reset) this.setData({ ledgerState: 'error', ledgerMessage: errorMessage(err) })
        else {
          this.setData({ loadingMore: false })
          wx.showToast({ title: errorMessage(err), icon: 'none' })
        }
      })
    },
    loadMoreExpenses() {
      if (!this.data.expenseCursor) return Promise.resolve()
      this.setData({ loadingMore: true })
      return api.get('/needs/' + this._id + '/ledger', { expense_cursor: this.data.expenseCursor }).then((l) => {
        l = l || {}
        this.setData({
          expenses: this.data.expenses.concat((l.expenses || []).map(viewExpense)),
          expenseCursor: l.expenses_next_cursor || null,
          loadingMore: false
        })
      }).catch((err) => {
        this.setData({ loadingMore: false })
        wx.showToast({ title: errorMessage(err), icon: 'none' })
      })
    },
    onLedgerRetry() {
      return this.loadLedger(true)
    },
    onTabTap(e) {
      this.setData({ tab: e.currentTarget.dataset.tab })
    },
    onReachBottom() {
      if (this.data.loadingMore) return Promise.resolve()
      if (this.data.tab === 'income' && this.data.incomeCursor) {
        this.setData({ loadingMore: true })
        return this.loadLedger(false)
      }
      if (this.data.tab === 'expenses') return this.loadMoreExpenses()
      return Promise.resolve()
    },
    onPullDownRefresh() {
      return Promise.all([this.load(), this.loadLedger(true)]).then(() => wx.stopPullDownRefresh())
    },
    onEvidenceTap(e) {
      const { expense, index } = e.currentTarget.dataset
      const item = this.data.expenses[expense]
      if (!item) return
      const ev = item.evidence[index]
      if (!ev.image) {
        wx.setClipboardData({ data: ev.url })
        return
      }
      const urls = item.evidence.filter((v) => v.image).map((v) => v.url)
      wx.previewImage({ current: ev.url, urls })
    },
    onPhotoTap(e) {
      const { update, index } = e.currentTarget.dataset
      const u = this.data.need.updates[update]
      if (!u) return
      wx.previewImage({ current: u.photos[index].url, urls: u.photos.map((p) => p.url) })
    },
    onImageTap(e) {
      const images = this.data.need.images
      wx.previewImage({ current: images[e.currentTarget.dataset.index], urls: images })
    },
    onDonate() {
      let url = '/pages/donate/donate?need_id=' + this._id
      if (this._spaceCode) url += '&space_code=' + encodeURIComponent(this._spaceCode)
      wx.navigateTo({ url })
    },
    onShareAppMessage() {
      const need = this.data.need || {}
      return { title: need.title || '邻善公益项目', path: '/pages/need/need?id=' + this._id }
    },
    onShareTimeline() {
      const need = this.data.need || {}
      return { title: need.title || '邻善公益项目', query: 'id=' + this._id }
    }
  }
})
