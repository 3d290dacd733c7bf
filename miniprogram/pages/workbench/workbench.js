// 工作台: the fund team's desk. Per fund: draft and submitted needs, overdue disclosures
// and shortcuts; above them the expenses waiting for the caller's decision.
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

// Foundations the user administers (foundation_admin grants), in first-seen order.
function foundationGrants(me) {
  const seen = []
  ;((me && Array.isArray(me.roles)) ? me.roles : []).forEach((g) => {
    if (g && g.role === 'foundation_admin' && g.scope_type === 'foundation' && g.scope_id &&
        seen.indexOf(g.scope_id) < 0) seen.push(g.scope_id)
  })
  return seen.map((id) => ({ id, fundText: '', error: '' }))
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
    foundations: [],
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
      return api.get('/me').then((me) => {
        const grants = L.fundRoles(me)
        const foundations = foundationGrants(me)
        if (!grants.length && !foundations.length) {
          return { hasRole: false, funds: [], foundations: [], canDecide: false, pending: [], pendingError: '' }
        }
        const canDecide = grants.some((g) => g.roles.indexOf('secretary') >= 0 || g.roles.indexOf('committee') >= 0)
        const pending = canDecide
          ? api.get('/me/pending-expenses', { limit: 50 }).then(
            (page) => ({ rows: items(page).map(expenseRow), error: '' }),
            (err) => ({ rows: [], error: L.errorMessage(err) }))
          : Promise.resolve({ rows: [], error: '' })
        return Promise.all([Promise.all(grants.map((g) => this.loadFund(g))), pending])
          .then(([funds, p]) => ({ hasRole: true, funds, foundations, canDecide, pending: p.rows, pendingError: p.error }))
      }).then((result) => {
        if (seq !== this.seq) return
        this.setData(Object.assign({ state: 'ready', message: '' }, result))
      }).catch((err) => {
        if (seq !== this.seq) return
        this.setData({ state: 'error', message: L.errorMessage(err) })
      })
    },

    // One fund's section; a failure shows in that section only.
    loadFund(grant) {
      const id = grant.fundId
      const base = {
        id,
        name: '社区基金 #' + id,
        roles: grant.roles.map((r) => L.label(L.ROLE, r)).join('、'),
        isSecretary: grant.roles.indexOf('secretary') >= 0,
        drafts: [],
        submitted: [],
        disclosures: [],
        overdueCount: 0,
        moreDisclosures: false,
        error: ''
      }
      return Promise.all([
        api.get('/funds/' + id),
        api.get('/funds/' + id + '/needs', { status: 'draft', limit: 50 }),
        api.get('/funds/' + id + '/needs', { status: 'submitted', limit: 50 }),
        api.get('/funds/' + id + '/disclosures', { limit: 20 })
      ]).then(([fund, drafts, submitted, duties]) => {
        const rows = items(duties).map((d) => disclosureRow(d, id))
        const overdue = rows.filter((r) => r.overdue).length
        return Object.assign(base, {
          name: (fund && fund.name) || base.name,
          drafts: items(drafts).map(needRow),
          submitted: items(submitted).map(needRow),
          disclosures: rows.slice(0, DISCLOSURES_SHOWN),
          moreDisclosures: rows.length > DISCLOSURES_SHOWN || !!(duties && duties.next_cursor),
          overdueCount: fund && Number.isInteger(fund.overdue_disclosure_count)
            ? fund.overdue_disclosure_count : overdue
        })
      }).catch((err) => Object.assign(base, { error: L.errorMessage(err) }))
    },

    // A foundation admin opens a fund's spaces by its number (the API lists no foundation's funds).
    onFundText(e) {
      const index = Number(e.currentTarget.dataset.index)
      this.setData({ ['foundations[' + index + '].fundText']: e.detail.value, ['foundations[' + index + '].error']: '' })
    },

    onFoundationSpaces(e) {
      const index = Number(e.currentTarget.dataset.index)
      const row = this.data.foundations[index]
      if (!row) return
      const fundId = L.idParam(String(row.fundText || '').trim())
      if (!fundId) {
        this.setData({ ['foundations[' + index + '].error']: '请输入社区基金编号（数字）' })
        return
      }
      wx.navigateTo({ url: '/pages/spaces/spaces?fund_id=' + fundId })
    },

    onNavigate(e) {
      const url = e.currentTarget.dataset.url
      if (url) wx.navigateTo({ url })
    }
  }
})
