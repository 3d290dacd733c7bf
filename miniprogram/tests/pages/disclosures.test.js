const shim = require('../shim/wx')
const { mount, text, fire } = require('../shim/load')

const ok = (data) => ({ statusCode: 200, data })

const duties = [
  { need_id: 22, title: '社区环境', status: 'completed', state: 'due_soon', next_due: '2026-02-01', last_disclosed_on: null, days_overdue: 0 },
  { need_id: 21, title: '独居老人助浴', status: 'in_progress', state: 'overdue', next_due: '2026-01-10', last_disclosed_on: '2025-10-09', days_overdue: 12 },
  { need_id: 25, title: '助学金', status: 'fundraising', state: 'overdue', next_due: '2025-12-01', days_overdue: 52 }
]

describe('pages/disclosures', () => {
  test('lists the duties most urgent first with the overdue ones highlighted', async () => {
    shim.routes({ 'GET /funds/3/disclosures': ok({ items: duties, next_cursor: null }) })
    const p = mount('pages/disclosures/disclosures')
    await p.instance.onLoad({ fund_id: '3' })
    expect(p.data.state).toBe('ready')
    const cards = p.querySelectorAll('.duty')
    expect(cards).toHaveLength(3)
    expect(p.querySelectorAll('.duty-title').map((n) => n.dom.textContent)).toEqual(['助学金', '独居老人助浴', '社区环境'])
    expect(p.querySelectorAll('.duty.is-overdue')).toHaveLength(2)
    expect(cards[0].dom.textContent).toContain('已逾期 52 天')
    expect(cards[2].dom.textContent).toContain('请于 2026-02-01 前发布')
    expect(cards[2].dom.textContent).toContain('尚未公开')
    expect(cards[2].dom.textContent).toContain('发布结项报告')
    expect(text(p, '#summary')).toContain('2 个项目的信息公开已逾期')
  })

  test('each links to the update form with the right kind', async () => {
    shim.routes({ 'GET /funds/3/disclosures': ok({ items: duties }) })
    const p = mount('pages/disclosures/disclosures')
    await p.instance.onLoad({ fund_id: '3' })
    const cards = p.querySelectorAll('.duty')
    await fire(p, cards[1])
    await fire(p, cards[2])
    expect(wx.navigateTo.mock.calls.map((c) => c[0].url)).toEqual([
      '/pages/update-new/update-new?fund_id=3&need_id=21&kind=disclosure',
      '/pages/update-new/update-new?fund_id=3&need_id=22&kind=final'
    ])
  })

  test('loads more pages with the cursor', async () => {
    shim.routes({
      'GET /funds/3/disclosures': (d, q) => ok(q.cursor === 'c2'
        ? { items: [{ need_id: 30, title: '更多', status: 'funded', state: 'due_soon', next_due: '2026-03-01' }], next_cursor: null }
        : { items: duties, next_cursor: 'c2' })
    })
    const p = mount('pages/disclosures/disclosures')
    await p.instance.onLoad({ fund_id: '3' })
    await fire(p, '.more')
    expect(shim.requests[1].query.cursor).toBe('c2')
    expect(p.querySelectorAll('.duty')).toHaveLength(4)
    expect(p.querySelector('.more')).toBeUndefined()
  })

  test('an empty list shows the empty state; missing fields do not break', async () => {
    shim.routes({ 'GET /funds/3/disclosures': ok({ items: [] }) })
    const p = mount('pages/disclosures/disclosures')
    await p.instance.onLoad({ fund_id: '3' })
    expect(p.data.state).toBe('empty')
    expect(text(p.querySelector('#sv'), '#empty')).toContain('没有逾期或即将到期')

    shim.routes({ 'GET /funds/3/disclosures': ok({ items: [{ need_id: 9 }] }) })
    const q = mount('pages/disclosures/disclosures')
    await q.instance.onLoad({ fund_id: '3' })
    expect(text(q, '.duty-title')).toBe('项目 #9')
  })

  test('an error shows the API message and retry reloads; showing again reloads', async () => {
    let fail = true
    shim.routes({ 'GET /funds/3/disclosures': () => (fail ? shim.apiError(403, 'forbidden', '没有权限执行此操作') : ok({ items: duties })) })
    const p = mount('pages/disclosures/disclosures')
    await p.instance.onLoad({ fund_id: '3' })
    expect(text(p.querySelector('#sv'), '.sv-message')).toBe('没有权限执行此操作')
    fail = false
    await fire(p.querySelector('#sv'), '#retry')
    expect(p.data.state).toBe('ready')
    const n = shim.requests.length
    await p.instance.onShow()
    await p.instance.onShow()
    expect(shim.requests).toHaveLength(n + 1)
  })
})
