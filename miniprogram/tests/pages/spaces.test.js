const shim = require('../shim/wx')
const { mount, text, fire } = require('../shim/load')

const ok = (data, statusCode = 200) => ({ statusCode, data })

const fund = { id: 3, name: '幸福社区基金', region: { id: 40, name: '幸福街道' } }
const listed = (code, fundId, extra) => Object.assign({
  code, name: '空间 ' + code, address: '幸福路 ' + code + ' 号', opening_hours: '9:00–17:00',
  region: { id: 41, name: '幸福社区' }, fund: { id: fundId, name: '基金 ' + fundId }, photo_url: null
}, extra)
const detail = (code, figures, rank) => ok(Object.assign(listed(code, 3), {
  needs: [{ id: 11, title: '助老餐桌' }, { id: 12, title: '儿童书屋' }],
  figures,
  district_rank: rank || null
}))

function serve(extra = {}) {
  shim.routes(Object.assign({
    'GET /funds/3': ok(fund),
    'GET /spaces': (data, q) => (q.cursor
      ? ok({ items: [listed('s-b', 3)], next_cursor: null })
      : ok({ items: [listed('s-a', 3, { photo_url: 'https://files.test/a.jpg' })], next_cursor: 'next1' })),
    'GET /spaces/s-a': detail('s-a', { donation_count: 12, raised_fen: 123456, donor_count: 9 },
      { district: { id: 4, name: '幸福区' }, rank: 2, of: 7 }),
    'GET /spaces/s-b': detail('s-b', { donation_count: 0, raised_fen: 0, donor_count: 0 })
  }, extra))
}

describe('pages/spaces', () => {
  test('lists the fund\'s spaces (GET /spaces?fund_id=) with their figures, more on reaching the bottom', async () => {
    serve()
    const p = mount('pages/spaces/spaces')
    await p.instance.onLoad({ fund_id: '3' })
    expect(p.data.state).toBe('ready')
    const lists = () => shim.requests.filter((r) => r.path === '/api/v1/spaces').map((r) => r.query)
    expect(lists()).toEqual([{ fund_id: '3', limit: '10' }])
    expect(p.querySelectorAll('.space-item')).toHaveLength(1)
    expect(text(p, '#fund-name')).toBe('幸福社区基金')
    expect(text(p, '#space-s-a .space-name')).toBe('空间 s-a')
    expect(text(p, '#space-s-a .raised')).toBe('¥1,234.56')
    expect(text(p, '#space-s-a .donations')).toBe('12')
    expect(text(p, '#space-s-a .donors')).toBe('9')
    expect(text(p, '#space-s-a .rank')).toBe('幸福区第 2 / 7 名')
    expect(text(p, '#space-s-a .need-count')).toBe('展示 2 个项目')
    expect(p.querySelector('#space-s-a .space-photo')).toBeDefined()
    expect(text(p, '#more')).toBe('加载更多')

    await p.instance.onReachBottom()
    expect(lists()).toEqual([{ fund_id: '3', limit: '10' }, { fund_id: '3', limit: '10', cursor: 'next1' }])
    expect(p.querySelectorAll('.space-item')).toHaveLength(2)
    expect(text(p, '#space-s-b .raised')).toBe('¥0.00')
    expect(p.querySelector('#space-s-b .rank')).toBeUndefined()
    expect(p.querySelector('#more')).toBeUndefined()
    expect(p.querySelector('.truncated')).toBeUndefined()
    // the last page read: reaching the bottom again asks for nothing
    await p.instance.onReachBottom()
    expect(lists()).toHaveLength(2)
  })

  test('a failed next page shows its message and is tried again from the button', async () => {
    let fail = true
    serve({
      'GET /spaces': (data, q) => (q.cursor
        ? (fail ? shim.apiError(503, 'unavailable', '服务暂时不可用') : ok({ items: [listed('s-b', 3)], next_cursor: null }))
        : ok({ items: [listed('s-a', 3)], next_cursor: 'next1' }))
    })
    const p = mount('pages/spaces/spaces')
    await p.instance.onLoad({ fund_id: '3' })
    await p.instance.onReachBottom()
    expect(p.data.state).toBe('ready')
    expect(text(p, '#more-error')).toBe('服务暂时不可用')
    expect(p.querySelectorAll('.space-item')).toHaveLength(1)
    fail = false
    await fire(p, '#more')
    expect(p.querySelector('#more-error')).toBeUndefined()
    expect(p.querySelectorAll('.space-item')).toHaveLength(2)
  })

  test('taps: new space, edit, posters and codes, the public page', async () => {
    serve()
    const p = mount('pages/spaces/spaces')
    await p.instance.onLoad({ fund_id: '3' })
    await fire(p, '#new-space')
    await fire(p, '#space-s-a .edit-space')
    await fire(p, '#space-s-a .poster')
    await p.instance.onReachBottom()
    await fire(p, '#space-s-b .space-top')
    expect(wx.navigateTo.mock.calls.map((c) => c[0].url)).toEqual([
      '/pages/space-edit/space-edit?fund_id=3',
      '/pages/space-edit/space-edit?fund_id=3&code=s-a',
      '/pages/space-poster/space-poster?code=s-a',
      '/pages/space/space?code=s-b'
    ])
  })

  test('reloads when shown again (back from an edit)', async () => {
    serve()
    const p = mount('pages/spaces/spaces')
    await p.instance.onLoad({ fund_id: '3' })
    await p.instance.onShow()
    const before = shim.requests.length
    serve({ 'GET /spaces': ok({ items: [listed('s-a', 3)], next_cursor: null }) })
    await p.instance.onShow()
    expect(shim.requests.length).toBeGreaterThan(before)
    expect(p.querySelectorAll('.space-item')).toHaveLength(1)
  })

  test('no spaces yet: an invitation; a failed detail shows on its row only', async () => {
    serve({ 'GET /spaces': ok({ items: [], next_cursor: null }) })
    const p = mount('pages/spaces/spaces')
    await p.instance.onLoad({ fund_id: '3' })
    expect(text(p, '#empty')).toContain('还没有慈善空间')

    serve({ 'GET /spaces': ok({ items: [listed('s-c', 3)] }), 'GET /spaces/s-c': shim.apiError(503, 'unavailable', '服务暂时不可用') })
    const q = mount('pages/spaces/spaces')
    await q.instance.onLoad({ fund_id: '3' })
    expect(q.data.state).toBe('ready')
    expect(text(q, '.figures-error')).toBe('暂时无法读取筹款数据')
  })

  test('load errors show with a retry; no fund is an error', async () => {
    let fail = true
    serve({ 'GET /funds/3': () => (fail ? { fail: true } : ok(fund)) })
    const p = mount('pages/spaces/spaces')
    await p.instance.onLoad({ fund_id: '3' })
    expect(text(p.querySelector('#sv'), '.sv-message')).toContain('网络连接失败')
    fail = false
    await fire(p.querySelector('#sv'), '#retry')
    expect(p.data.state).toBe('ready')

    const q = mount('pages/spaces/spaces')
    await q.instance.onLoad({})
    expect(text(q.querySelector('#sv'), '.sv-message')).toBe('缺少基金信息，请从工作台进入')
  })
})
