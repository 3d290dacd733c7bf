const shim = require('../shim/wx')
const { mount, fire } = require('../shim/load')

describe('pages/dev-login', () => {
  test('picking a sandbox user logs in with NAME.<nonce>', async () => {
    shim.routes({ 'POST /auth/wechat-login': { statusCode: 200, data: { token: 'T', user: { id: 2, nickname: '小王' } } } })
    const page = mount('pages/dev-login/dev-login')
    page.instance.onLoad()
    await fire(page, '#name-secretary')
    expect(shim.requests[0].data.code).toMatch(/^secretary\.[a-z0-9]+$/)
    expect(shim.storage().token).toBe('T')
    expect(page.querySelector('#current').dom.textContent).toBe('小王')
    expect(wx.switchTab).toHaveBeenCalledWith({ url: '/pages/index/index' })
  })

  test('bad names and login errors are shown', async () => {
    shim.routes({ 'POST /auth/wechat-login': shim.apiError(400, 'invalid_code', '登录凭证无效') })
    const page = mount('pages/dev-login/dev-login')
    page.instance.onLoad()
    await fire(page, '#name-input', 'input', { detail: { value: '坏 名字' } })
    await fire(page, '#custom')
    expect(page.querySelector('#error').dom.textContent).toContain('用户名只能包含')
    await fire(page, '#name-input', 'input', { detail: { value: 'bob' } })
    await fire(page, '#custom')
    expect(page.querySelector('#error').dom.textContent).toBe('登录凭证无效')
  })

  test('not available outside develop', async () => {
    shim.setEnv('release')
    const page = mount('pages/dev-login/dev-login')
    page.instance.onLoad()
    expect(page.querySelector('#not-allowed')).toBeDefined()
    await page.instance.loginAs('x')
    expect(shim.requests).toHaveLength(0)
  })
})
