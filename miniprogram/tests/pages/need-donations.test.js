const shim = require('../shim/wx')
const { mount, text, fire } = require('../shim/load')

const ok = (data) => ({ statusCode: 200, data })
const donation = (id, extra) => Object.assign({
  id, public_name: '张**', amount_fen: 10000, refunded_fen: 0, refunding_fen: 0, allocated_fen: 3000,
  refundable_fen: 7000, status: 'paid', paid_at: '2026-03-01T10:00:00+08:00', message: '加油'
}, extra)

function serve(over = {}) {
  shim.routes(Object.assign({
    'GET /needs/12': ok({ id: 12, title: '儿童书屋', status: 'fundraising' }),
    'GET /needs/12/donations': (data, q) => (q.cursor === 'c2'
      ? ok({ items: [donation(3, { public_name: '爱心人士', refundable_fen: 0, allocated_fen: 10000, message: '' })], next_cursor: null })
      : ok({ items: [
        donation(5),
        donation(4, { status: 'partially_refunded', refunded_fen: 2000, refunding_fen: 1000, refundable_fen: 4000, pooled: true })
      ], next_cursor: 'c2' }))
  }, over))
}

async function open(query = { need_id: '12' }) {
  const p = mount('pages/need-donations/need-donations')
  await p.instance.onLoad(query)
  return p
}

describe('pages/need-donations', () => {
  test('lists the donations with what can be refunded; endless scroll', async () => {
    serve()
    const p = await open()
    expect(p.data.state).toBe('ready')
    expect(text(p, '#need-title')).toBe('儿童书屋')
    expect(shim.requests.find((r) => r.path === '/api/v1/needs/12/donations').query).toEqual({ limit: '20' })
    expect(p.querySelectorAll('.donation')).toHaveLength(2)
    expect(text(p, '#donation-5 .donor')).toBe('张**')
    expect(text(p, '#donation-5 .amount')).toBe('¥100.00')
    expect(text(p, '#donation-5 .refundable')).toBe('¥70.00')
    expect(text(p, '#donation-5 .allocated')).toBe('¥30.00')
    expect(text(p, '#donation-5')).toContain('2026-03-01 10:00 · 已支付')
    expect(text(p, '#donation-5 .donor-message')).toBe('留言：加油')
    expect(p.querySelector('#donation-5 .refund-sum')).toBeUndefined()
    expect(text(p, '#donation-4 .status')).toBe('部分退款')
    expect(text(p, '#donation-4 .pooled')).toBe('结余已转入基金池')
    expect(p.querySelector('#donation-5 .pooled')).toBeUndefined()
    expect(text(p, '#donation-4 .refund-sum')).toBe('已退款 ¥20.00 · 退款中 ¥10.00')
    expect(text(p, '#footer')).toBe('上拉加载更多')
    // a need still raising money has no leftover to decide
    expect(p.querySelector('#leftover')).toBeUndefined()

    await p.instance.onReachBottom()
    expect(shim.requests.filter((r) => r.path === '/api/v1/needs/12/donations').map((r) => r.query.cursor)).toEqual([undefined, 'c2'])
    expect(p.querySelectorAll('.donation')).toHaveLength(3)
    expect(p.querySelector('#donation-3 .refund-btn')).toBeUndefined()
    expect(text(p, '#donation-3 .no-refund')).toBe('没有可退款的金额')
    expect(text(p, '#footer')).toBe('没有更多了')
    await p.instance.onReachBottom()
    expect(shim.requests.filter((r) => r.path === '/api/v1/needs/12/donations')).toHaveLength(2)
  })

  test('退款 opens the refund page with the donation\'s refundable amount', async () => {
    serve()
    const p = await open()
    await fire(p, '#donation-4 .refund-btn')
    expect(wx.navigateTo).toHaveBeenCalledWith({
      url: '/pages/refund/refund?donation_id=4&need_id=12&refundable_fen=4000&name=' + encodeURIComponent('张**')
    })
  })

  test('an ended need links to its leftover; coming back reloads the amounts', async () => {
    serve({ 'GET /needs/12': ok({ id: 12, title: '儿童书屋', status: 'completed' }) })
    const p = await open()
    expect(text(p, '.need-status')).toBe('已完成')
    await fire(p, '#leftover')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/need-leftover/need-leftover?need_id=12' })
    await p.instance.onShow()
    const before = shim.requests.length
    serve({ 'GET /needs/12': ok({ id: 12, title: '儿童书屋', status: 'completed' }), 'GET /needs/12/donations': ok({ items: [donation(5, { refundable_fen: 0, refunding_fen: 7000 })], next_cursor: null }) })
    await p.instance.onShow()
    expect(shim.requests.length).toBeGreaterThan(before)
    expect(p.querySelectorAll('.donation')).toHaveLength(1)
    expect(text(p, '#donation-5 .refund-sum')).toBe('退款中 ¥70.00')
    expect(p.querySelector('#donation-5 .refund-btn')).toBeUndefined()
  })

  test('empty, error with retry, and a missing need id', async () => {
    serve({ 'GET /needs/12/donations': ok({ items: [], next_cursor: null }) })
    const p = await open()
    expect(p.data.state).toBe('empty')
    expect(text(p.querySelector('#sv'), '#empty')).toBe('这个项目还没有已支付的捐赠')

    serve({ 'GET /needs/12/donations': shim.apiError(403, 'forbidden', '只有基金会管理员可以查看') })
    const q = await open()
    expect(q.data.state).toBe('error')
    expect(text(q.querySelector('#sv'), '.sv-message')).toBe('只有基金会管理员可以查看')
    serve()
    await fire(q.querySelector('#sv'), '#retry')
    expect(q.data.state).toBe('ready')
    expect(q.querySelectorAll('.donation')).toHaveLength(2)

    const r = await open({})
    expect(text(r.querySelector('#sv'), '.sv-message')).toContain('缺少项目信息')
  })

  test('a failed next page says why and retries on tap', async () => {
    serve()
    const p = await open()
    serve({ 'GET /needs/12/donations': { fail: true } })
    await p.instance.onReachBottom()
    expect(text(p, '.more-error')).toContain('网络连接失败')
    expect(p.querySelectorAll('.donation')).toHaveLength(2)
    serve()
    await fire(p, '.more-error')
    expect(p.querySelector('.more-error')).toBeUndefined()
    expect(p.querySelectorAll('.donation')).toHaveLength(3)
  })
})
