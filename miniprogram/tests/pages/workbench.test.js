const shim = require('../shim/wx')
const { mount, text, fire } = require('../shim/load')

const ok = (data) => ({ statusCode: 200, data })
const page = (items, next) => ok({ items, next_cursor: next || null })

// GET /me/funds: the funds the user holds a role over, with those roles.
const covered = (id, roles, extra) => Object.assign({
  id, name: '幸福社区基金', region: { id: 40, name: '幸福街道' }, foundation: { id: 2, name: '邻善慈善基金会' }, roles
}, extra)
const myFunds = (...funds) => ok(funds)
const secretaryOf = (fundId) => covered(fundId, ['secretary'])

function serveFund(table, fundId, extra = {}) {
  Object.assign(table, {
    ['GET /funds/' + fundId]: ok({ id: fundId, name: '幸福社区基金', overdue_disclosure_count: 1 }),
    ['GET /funds/' + fundId + '/needs']: (data, q) => (q.status === 'draft'
      ? page([{ id: 11, title: '助老餐桌', category: 'elderly', status: 'draft', goal_fen: 500000, updated_at: '2026-03-01T10:00:00+08:00' }])
      : page([{ id: 12, title: '儿童书屋', category: 'children', status: 'submitted', goal_fen: 123456 }])),
    ['GET /funds/' + fundId + '/disclosures']: page([
      { need_id: 21, title: '独居老人助浴', status: 'in_progress', state: 'overdue', next_due: '2026-01-10', days_overdue: 12 },
      { need_id: 22, title: '社区环境', status: 'completed', state: 'due_soon', next_due: '2026-02-01', days_overdue: 0 }
    ])
  }, extra)
  return table
}

describe('pages/workbench', () => {
  test('renders each fund with drafts, submitted needs, disclosures and pending approvals', async () => {
    const table = serveFund({
      'GET /me/funds': myFunds(secretaryOf(3)),
      'GET /me/pending-expenses': page([{ id: 31, purpose: '购买助浴椅', amount_fen: 88000, fund: { id: 3, name: '幸福社区基金' }, need: { id: 21, title: '独居老人助浴' }, needs_committee: true, approval_count: 1, required_approvals: 2 }])
    }, 3)
    shim.routes(table)
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(p.data.state).toBe('ready')
    expect(p.data.hasRole).toBe(true)
    expect(shim.requests.map((r) => r.method + ' ' + r.path + (r.query.status ? '?' + r.query.status : '')))
      .toEqual(expect.arrayContaining([
        'GET /api/v1/funds/3/needs?draft', 'GET /api/v1/funds/3/needs?submitted',
        'GET /api/v1/funds/3/disclosures', 'GET /api/v1/me/pending-expenses', 'GET /api/v1/me/funds'
      ]))
    expect(text(p, '.fund .fund-place')).toBe('幸福街道 · 邻善慈善基金会')
    expect(text(p, '.fund .card-title')).toBe('幸福社区基金')
    expect(p.querySelectorAll('.draft-item')).toHaveLength(1)
    expect(text(p, '.draft-item')).toContain('助老餐桌')
    expect(text(p, '.draft-item')).toContain('¥5,000.00')
    expect(text(p, '.draft-item')).toContain('敬老')
    expect(text(p, '.submitted-item')).toContain('¥1,234.56')
    expect(text(p, '.pending-item')).toContain('购买助浴椅')
    expect(text(p, '.pending-item')).toContain('¥880.00')
    expect(text(p, '.pending-item')).toContain('1/2')
    expect(p.querySelectorAll('.disclosure-item')).toHaveLength(2)
    expect(p.querySelectorAll('.disclosure-item.is-overdue')).toHaveLength(1)
    expect(text(p, '.disclosure-item')).toContain('已逾期 12 天')
    expect(text(p, '.overdue-count')).toContain('逾期 1 项')
  })

  test('taps navigate: new need, new expense, post update, a draft, a pending expense, disclosures', async () => {
    shim.routes(serveFund({ 'GET /me/funds': myFunds(secretaryOf(3)), 'GET /me/pending-expenses': page([{ id: 31, amount_fen: 100, fund: { id: 3, name: 'x' } }]) }, 3))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    await fire(p, '.new-need')
    await fire(p, '.new-expense')
    await fire(p, '.new-update')
    await fire(p, '.draft-item')
    await fire(p, '.pending-item')
    await fire(p, '.all-disclosures')
    await fire(p, '.disclosure-item')
    const urls = wx.navigateTo.mock.calls.map((c) => c[0].url)
    expect(urls).toEqual([
      '/pages/need-edit/need-edit?fund_id=3',
      '/pages/expense-new/expense-new?fund_id=3',
      '/pages/update-new/update-new?fund_id=3',
      '/pages/need-edit/need-edit?fund_id=3&need_id=11',
      '/pages/expense/expense?id=31',
      '/pages/disclosures/disclosures?fund_id=3',
      '/pages/update-new/update-new?fund_id=3&need_id=21&kind=disclosure'
    ])
  })

  test('a supervisor sees the lists but no secretary buttons and no approvals call', async () => {
    shim.routes(serveFund({ 'GET /me/funds': myFunds(covered(3, ['supervisor'])) }, 3))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(p.querySelector('.new-need')).toBeUndefined()
    expect(p.querySelector('.pending')).toBeUndefined()
    expect(shim.requests.some((r) => r.path === '/api/v1/me/pending-expenses')).toBe(false)
    expect(text(p, '.fund .tag')).toBe('监督员')
  })

  test('a user without a fund role gets a friendly message and no fund calls', async () => {
    shim.routes({ 'GET /me/funds': myFunds() })
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(p.data.hasRole).toBe(false)
    expect(text(p, '.no-role')).toContain('您目前没有基金职务')
    expect(shim.requests).toHaveLength(1)
  })

  test('empty lists and missing fields render without breaking', async () => {
    shim.routes({
      'GET /me/funds': ok([{ id: 3, roles: ['secretary'] }]),
      'GET /funds/3': ok({ id: 3 }),
      'GET /funds/3/needs': ok({}),
      'GET /funds/3/disclosures': page([]),
      'GET /me/pending-expenses': page([{ id: 9 }])
    })
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(p.data.state).toBe('ready')
    expect(text(p, '.drafts-empty')).toBe('暂无草稿')
    expect(text(p, '.submitted-empty')).toBe('暂无待发布的项目')
    expect(text(p, '.disclosures-empty')).toContain('没有逾期')
    expect(text(p, '.fund .card-title')).toBe('社区基金 #3')
    expect(text(p, '.pending-item')).toContain('¥0.00')
  })

  test('a lost network shows the error with a retry that reloads', async () => {
    shim.mockRequest(() => ({ fail: true }))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(p.data.state).toBe('error')
    expect(text(p.querySelector('#sv'), '#error')).toContain('网络连接失败')
    shim.routes(serveFund({ 'GET /me/funds': myFunds(secretaryOf(3)), 'GET /me/pending-expenses': page([]) }, 3))
    await fire(p.querySelector('#sv'), '#retry')
    expect(p.data.state).toBe('ready')
    expect(text(p, '.pending-empty')).toBe('暂无待审批的支出')
  })

  test('one fund failing shows its message; the pending list failing shows the API message', async () => {
    shim.routes(serveFund({
      'GET /me/funds': myFunds(secretaryOf(3), covered(4, ['secretary'], { name: '和平社区基金' })),
      'GET /funds/4': shim.apiError(403, 'forbidden', '没有权限查看这个基金'),
      'GET /me/pending-expenses': shim.apiError(500, 'internal_error', '服务器开小差了，请稍后再试')
    }, 3))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(p.querySelectorAll('.fund')).toHaveLength(2)
    expect(text(p, '#fund-4 .fund-error')).toContain('没有权限查看这个基金')
    expect(text(p, '#fund-3 .draft-item')).toContain('助老餐桌')
    expect(text(p, '.pending-error')).toBe('服务器开小差了，请稍后再试')
  })

  test('showing the page again reloads it, the first show does not', async () => {
    shim.routes(serveFund({ 'GET /me/funds': myFunds(secretaryOf(3)), 'GET /me/pending-expenses': page([]) }, 3))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    const count = shim.requests.length
    await p.instance.onShow()
    expect(shim.requests).toHaveLength(count)
    await p.instance.onShow()
    expect(shim.requests).toHaveLength(count * 2)
  })
  test('a secretary has the charity spaces entry; it opens the fund\'s space list', async () => {
    shim.routes(serveFund({ 'GET /me/funds': myFunds(secretaryOf(3)), 'GET /me/pending-expenses': page([]) }, 3))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(text(p, '.spaces-entry')).toContain('慈善空间')
    await fire(p, '.spaces-entry')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/spaces/spaces?fund_id=3' })
  })

  test('a supervisor has no spaces entry', async () => {
    shim.routes(serveFund({ 'GET /me/funds': myFunds(covered(3, ['supervisor'])) }, 3))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(p.querySelector('.spaces-entry')).toBeUndefined()
    expect(p.querySelector('.foundation')).toBeUndefined()
  })

  test('a foundation admin sees the foundation\'s funds from GET /me/funds and opens a fund\'s spaces', async () => {
    const table = serveFund({
      'GET /me/funds': myFunds(covered(3, ['foundation_admin']), covered(5, ['foundation_admin'], { name: '和平社区基金', region: { id: 50, name: '和平街道' } }))
    }, 3)
    serveFund(table, 5)
    shim.routes(table)
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(p.data.hasRole).toBe(true)
    expect(p.querySelector('.no-role')).toBeUndefined()
    expect(p.querySelector('.foundation')).toBeUndefined()
    expect(p.querySelectorAll('.fund')).toHaveLength(2)
    expect(text(p, '#fund-5 .card-title')).toBe('和平社区基金')
    expect(text(p, '#fund-5 .fund-place')).toBe('和平街道 · 邻善慈善基金会')
    expect(text(p, '#fund-3 .tag')).toBe('基金会管理员')
    // the lists a fund's team reads, but none of a secretary's buttons and no approvals
    expect(text(p, '#fund-5 .draft-item')).toContain('助老餐桌')
    expect(text(p, '#fund-5 .overdue-count')).toContain('逾期 1 项')
    expect(p.querySelector('.new-need')).toBeUndefined()
    expect(p.querySelector('.pending')).toBeUndefined()
    expect(shim.requests.some((r) => r.path === '/api/v1/me/pending-expenses')).toBe(false)
    expect(shim.requests.some((r) => r.path === '/api/v1/me')).toBe(false)
    expect(text(p, '#fund-5 .spaces-entry')).toContain('慈善空间')
    await fire(p, '#fund-5 .spaces-entry')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/spaces/spaces?fund_id=5' })
  })

  test('a secretary who is also the foundation admin: both roles on one card, one spaces entry', async () => {
    shim.routes(serveFund({ 'GET /me/funds': myFunds(covered(3, ['foundation_admin', 'secretary'])), 'GET /me/pending-expenses': page([]) }, 3))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(text(p, '#fund-3 .tag')).toBe('基金会管理员、书记')
    expect(p.querySelectorAll('.spaces-entry')).toHaveLength(1)
    expect(p.querySelector('#fund-3 .new-need')).toBeDefined()
    expect(p.querySelector('.pending')).toBeDefined()
  })

  test('a platform admin: no spaces entry; beyond the first funds a fund\'s lists load when opened', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => i + 1)
    const table = { 'GET /me/funds': myFunds(...ids.map((id) => covered(id, ['platform_admin'], { name: '基金 ' + id }))) }
    ids.forEach((id) => serveFund(table, id))
    shim.routes(table)
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(p.querySelectorAll('.fund')).toHaveLength(12)
    expect(text(p, '#fund-1 .tag')).toBe('平台管理员')
    expect(p.querySelector('.spaces-entry')).toBeUndefined()
    const read = (id) => shim.requests.some((r) => r.path === '/api/v1/funds/' + id + '/disclosures')
    expect(read(10)).toBe(true)
    expect(read(11)).toBe(false)
    expect(p.querySelector('#fund-11 .draft-item')).toBeUndefined()
    expect(text(p, '#fund-11 .fund-open')).toContain('查看草稿')
    await fire(p, '#fund-11 .fund-open')
    expect(read(11)).toBe(true)
    expect(read(12)).toBe(false)
    expect(p.querySelector('#fund-11 .fund-open')).toBeUndefined()
    expect(text(p, '#fund-11 .draft-item')).toContain('助老餐桌')
    expect(text(p, '#fund-11 .card-title')).toBe('基金 11')
  })

  test('a fund\'s retry reads that fund again', async () => {
    let fail = true
    shim.routes(serveFund({
      'GET /me/funds': myFunds(secretaryOf(3)),
      'GET /me/pending-expenses': page([])
    }, 3, { 'GET /funds/3/disclosures': () => (fail ? { fail: true } : page([])) }))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(text(p, '#fund-3 .fund-error')).toContain('网络连接失败')
    expect(p.querySelector('#fund-3 .spaces-entry')).toBeDefined()
    fail = false
    const before = shim.requests.length
    await fire(p, '#fund-3 .fund-retry')
    expect(p.querySelector('#fund-3 .fund-error')).toBeUndefined()
    expect(text(p, '#fund-3 .draft-item')).toContain('助老餐桌')
    expect(shim.requests.slice(before).map((r) => r.path)).not.toContain('/api/v1/me/funds')
  })

  test('a foundation admin gets each published need\'s donations and, once ended, its leftover', async () => {
    shim.routes(serveFund({ 'GET /me/funds': myFunds(covered(3, ['foundation_admin'])) }, 3, {
      'GET /funds/3/needs': (data, q) => (q.status ? page([]) : page([
        { id: 11, title: '助老餐桌', status: 'draft' },
        { id: 12, title: '儿童书屋', status: 'fundraising', raised_fen: 120000 },
        { id: 13, title: '独居老人助浴', status: 'completed', raised_fen: 500000 },
        { id: 14, title: '社区环境', status: 'closed' }
      ], 'more'))
    }))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    const asked = shim.requests.filter((r) => r.path === '/api/v1/funds/3/needs').map((r) => r.query.status || 'all')
    expect(asked.sort()).toEqual(['all', 'draft', 'submitted'])
    expect(p.querySelectorAll('.money-need')).toHaveLength(3)
    expect(p.querySelector('#money-need-11')).toBeUndefined()
    expect(text(p, '#money-need-12')).toContain('筹款中 · 已筹 ¥1,200.00')
    expect(p.querySelector('#money-need-12 .need-leftover')).toBeUndefined()
    expect(text(p, '.money-needs-more')).toContain('50')
    await fire(p, '#money-need-12 .need-donations')
    await fire(p, '#money-need-13 .need-leftover')
    await fire(p, '#money-need-14 .need-leftover')
    expect(wx.navigateTo.mock.calls.map((c) => c[0].url)).toEqual([
      '/pages/need-donations/need-donations?need_id=12',
      '/pages/need-leftover/need-leftover?need_id=13',
      '/pages/need-leftover/need-leftover?need_id=14'
    ])
  })

  test('a secretary reads no refund list; a foundation admin without published needs is told so', async () => {
    shim.routes(serveFund({ 'GET /me/funds': myFunds(secretaryOf(3)), 'GET /me/pending-expenses': page([]) }, 3))
    const p = mount('pages/workbench/workbench')
    await p.instance.onLoad({})
    expect(shim.requests.filter((r) => r.path === '/api/v1/funds/3/needs' && !r.query.status)).toHaveLength(0)
    expect(p.querySelector('.money-need')).toBeUndefined()
    expect(p.querySelector('.money-needs-empty')).toBeUndefined()

    shim.routes(serveFund({ 'GET /me/funds': myFunds(covered(3, ['foundation_admin'])) }, 3))
    const q = mount('pages/workbench/workbench')
    await q.instance.onLoad({})
    expect(text(q, '.money-needs-empty')).toBe('暂无已发布的项目')
  })
})
