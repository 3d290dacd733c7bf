// 工作台: the fund team's desk. Per fund the user holds a role over (GET /me/funds: through
// the fund, its foundation or the platform): draft and submitted needs, overdue disclosures
// and the shortcuts the roles allow; above them the expenses waiting for the caller's decision.
const api = require('../../utils/api.js')
const { yuan } = require('../../utils/money.js')
const L = require('../../components/sec-common/labels.js')

const DISCLOSURES_SHOWN = 3

function needRow(need) {
  return {
    id: need.id,
    title: need.title || '（未命名项目）',
    category: L.categoryLabel(need.category),
    goal: yuan(need.goal_fen),
    status: L.label(L.NEED_STATUS, need.status),
    updated: L.shortTime(need.updated_at || need.created_at)
  }
}

function disclosureRow(duty, fundId) {
  const overdue = duty.state === 'overdue'
  return {
    needId: duty.need_id,
    title: duty.title || '项目 #' + duty.need_id,
    overdue,
    state: L.label(L.DISCLOSURE_STATE, duty.state),
    due: duty.next_due || '',
    daysOverdue: duty.days_overdue || 0,
    url: '/pages/update-new/update-new?fund_id=' + fundId + '&need_id=' + duty.need_id +
      '&kind=' + L.disclosureKind(duty.status)
  }
}

// A published need in a foundation admin's list: its donations (refunds) and, once it
// has ended, what is left of it.
function moneyNeedRow(need) {
  return {
    id: need.id,
    title: need.title || '项目 #' + need.id,
    status: L.label(L.NEED_STATUS, need.status),
    raised: Number.isInteger(need.raised_fen) ? yuan(need.raised_fen) : '',
    ended: L.ENDED_NEED_STATUSES.indexOf(need.status) >= 0
  }
}

function expenseRow(expense) {
  const need = expense.need
  return {
    id: expense.id,
    purpose: expense.purpose || '（未填写用途）',
    amount: yuan(expense.amount_fen),
    fund: (expense.fund && expense.fund.name) || '',
    account: need && need.title ? need.title : '基金池',
    committee: !!expense.needs_committee,
    progress: (expense.approval_count || 0) + '/' + (expense.required_approvals || 1),
    created: L.shortTime(expense.created_at)
  }
}

// What each role may do on a fund (backend/accounts/permissions.py).
const NEED_ROLES = ['secretary'] // MANAGE_NEEDS, SUBMIT_EXPENSES
const SPACE_ROLES = ['secretary', 'foundation_admin'] // MANAGE_SPACES
const DECIDE_ROLES = ['secretary', 'committee'] // DECIDE_EXPENSES
const REFUND_ROLES = ['foundation_admin'] // refunds and leftovers
const MONEY_NEEDS_SHOWN = 50
// Funds whose section loads at once; beyond them, funds covered only through a
// foundation or the platform load when opened (a platform admin covers every fund).
const LOADED_AT_ONCE = 10
const FUND_SCOPED = ['secretary', 'committee', 'supervisor']

function holds(roles, wanted) {
  return roles.some((r) => wanted.indexOf(r) >= 0)
}

// A fund of GET /me/funds as its card, before its lists are read.
function fundCard(covered, index) {
  const roles = Array.isArray(covered.roles) ? covered.roles : []
  const place = [covered.region && covered.region.name, covered.foundation && covered.foundation.name]
    .filter(Boolean).join(' · ')
  return {
    id: covered.id,
    name: covered.name || '社区基金 #' + covered.id,
    place,
    roles: roles.map((r) => L.label(L.ROLE, r)).join('、'),
    isSecretary: holds(roles, NEED_ROLES),
    canSpaces: holds(roles, SPACE_ROLES),
    canDecide: holds(roles, DECIDE_ROLES),
    canRefund: holds(roles, REFUND_ROLES),
    loaded: index < LOADED_AT_ONCE || holds(roles, FUND_SCOPED),
    loading: false,
    drafts: [],
    submitted: [],
    disclosures: [],
    overdueCount: 0,
    moreDisclosures: false,
    moneyNeeds: [],
    moreMoneyNeeds: false,
    error: ''
  }
}

function items(page) {
  return (page && Array.isArray(page.items)) ? page.items : []
}

Component({
  data: {
    state: 'loading',
    message: '',
    hasRole: false,
    funds: [],
    canDecide: false,
    pending: [],
    pendingError: ''
  },

  methods: {
    onLoad() {
      this.shown = false
      return this.load()
    },

    onShow() {
      // Coming back from an edit page: show what changed.
      const reload = this.shown ? this.load() : Promise.resolve()
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
      const seq = (this.seq = (this.seq || 0) + 1)
      this.setData({ state: 'loading', message: '' })
      return api.get('/me/funds').then((covered) => {
        const cards = (Array.isArray(covered) ? covered : []).filter((f) => f && f.id).map(fundCard)
        if (!cards.length) return { hasRole: false, funds: [], canDecide: false, pending: [], pendingError: '' }
        const canDecide = cards.some((f) => f.canDecide)
        const pending = canDecide
          ? api.get('/me/pending-expenses', { limit: 50 }).then(
            (page) => ({ rows: items(page).map(expenseRow), error: '' }),
            (err) => ({ rows: [], error: L.errorMessage(err) }))
          : Promise.resolve({ rows: [], error: '' })
        const funds = Promise.all(cards.map((card) => (card.loaded ? this.loadFund(card) : card)))
        return Promise.all([funds, pending])
          .then(([rows, p]) => ({ hasRole: true, funds: rows, canDecide, pending: p.rows, pendingError: p.error }))
      }).then((result) => {
        if (seq !== this.seq) return
        this.setData(Object.assign({ state: 'ready', message: '' }, result))
      }).catch((err) => {
        if (seq !== this.seq) return
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    // One fund's lists; a failure shows in that fund's card only.
    loadFund(card) {
      const id = card.id
      const base = Object.assign({}, card, {
        loaded: true, loading: false, drafts: [], submitted: [], disclosures: [], overdueCount: 0, moreDisclosures: false,
        moneyNeeds: [], moreMoneyNeeds: false, error: ''
      })
      return Promise.all([
        api.get('/funds/' + id),
        api.get('/funds/' + id + '/needs', { status: 'draft', limit: 50 }),
        api.get('/funds/' + id + '/needs', { status: 'submitted', limit: 50 }),
        api.get('/funds/' + id + '/disclosures', { limit: 20 }),
        // the foundation admin's donations, refunds and leftovers start from the fund's needs
        card.canRefund ? api.get('/funds/' + id + '/needs', { limit: MONEY_NEEDS_SHOWN }) : null
      ]).then(([fund, drafts, submitted, duties, all]) => {
        const rows = items(duties).map((d) => disclosureRow(d, id))
        const overdue = rows.filter((r) => r.overdue).length
        return Object.assign(base, {
          drafts: items(drafts).map(needRow),
          submitted: items(submitted).map(needRow),
          moneyNeeds: items(all).filter((n) => n && L.PUBLIC_NEED_STATUSES.indexOf(n.status) >= 0).map(moneyNeedRow),
          moreMoneyNeeds: !!(all && all.next_cursor),
          disclosures: rows.slice(0, DISCLOSURES_SHOWN),
          moreDisclosures: rows.length > DISCLOSURES_SHOWN || !!(duties && duties.next_cursor),
          overdueCount: fund && Number.isInteger(fund.overdue_disclosure_count)
            ? fund.overdue_disclosure_count : overdue
        })
      }).catch((err) => Object.assign(base, { error: L.errorMessage(err) }))
    },

    // A fund not loaded at once (a foundation's or the platform's): read its lists on tap.
    onFundOpen(e) {
      const index = Number(e.currentTarget.dataset.index)
      const card = this.data.funds[index]
      if (!card || card.loading) return Promise.resolve()
      const seq = this.seq
      this.setData({ ['funds[' + index + '].loading']: true })
      return this.loadFund(card).then((row) => {
        if (seq !== this.seq) return
        this.setData({ ['funds[' + index + ']']: row })
      })
    },

    onFundRetry(e) {
      return this.onFundOpen(e)
    },

    onNavigate(e) {
      const url = e.currentTarget.dataset.url
      if (url) wx.navigateTo({ url })
    }
  }
})
