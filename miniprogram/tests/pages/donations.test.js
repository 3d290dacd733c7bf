const shim = require('../shim/wx')
const { mount, fire } = require('../shim/load')

const d = (id, extra) => Object.assign({ id, status: 'paid', amount_fen: 5000, need_id: 7, allocated_fen: 3000, paid_at: '2024-04-02T08:00:00+08:00',
  allocations: [{ expense_id: 3, amount_fen: 3000, purpose: '购买餐盒' }] }, extra)

describe('pages/donations', () => {
  test('lists donations with allocations; endless scroll; need link', async () => {
    shim.routes({ 'GET /me/donations': (x, q) => ({ statusCode: 200, data: q.cursor ? { items: [d(2, { need_id: null, allocations: [] })], next_cursor: null } : { items: [d(1)], next_cursor: 'n2' } }) })
    const page = mount('pages/donations/donations')
    await page.instance.onLoad()
    expect(page.dom.textContent).toContain('¥50.00')
    expect(page.dom.textContent).toContain('购买餐盒¥30.00')
    expect(page.dom.textContent).toContain('已支付')
    await page.instance.onReachBottom()
    expect(shim.requests[1].query.cursor).toBe('n2')
    expect(page.querySelectorAll('.donation')).toHaveLength(2)
    expect(page.dom.textContent).toContain('捐给社区基金')
    expect(page.dom.textContent).toContain('尚未支出')
    await fire(page, '.need-link')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/need/need?id=7' })
  })

  test('empty list and error with retry', async () => {
    let mode = 'error'
    shim.routes({ 'GET /me/donations': () => (mode === 'error' ? shim.apiError(500, 'internal_error', '服务器内部错误') : { statusCode: 200, data: { items: [], next_cursor: null } }) })
    const page = mount('pages/donations/donations')
    await page.instance.onLoad()
    expect(page.data.state).toBe('error')
    expect(page.dom.textContent).toContain('服务器内部错误')
    mode = 'empty'
    await fire(page.querySelector('#sv'), '#retry')
    expect(page.data.state).toBe('empty')
    expect(page.dom.textContent).toContain('还没有捐赠记录')
  })

  test('the account page is linked at the top for everyone', async () => {
    shim.setEnv('release')
    shim.routes({ 'GET /me/donations': { statusCode: 200, data: { items: [], next_cursor: null } } })
    const page = mount('pages/donations/donations')
    await page.instance.onLoad()
    await page.instance.onShow()
    expect(page.querySelector('#workbench')).toBeUndefined()
    expect(page.querySelector('#dev-login')).toBeUndefined()
    await fire(page, '#me')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/me/me' })
  })

  test('staff see the workbench link', async () => {
    shim.setStorage('user', { id: 1, roles: [{ role: 'secretary', scope_type: 'fund', scope_id: 1 }] })
    shim.routes({ 'GET /me/donations': { statusCode: 200, data: { items: [], next_cursor: null } } })
    const page = mount('pages/donations/donations')
    await page.instance.onLoad()
    await page.instance.onShow()
    await fire(page, '#workbench')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/workbench/workbench' })
  })
})
