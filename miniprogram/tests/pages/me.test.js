const shim = require('../shim/wx')
const { mount, text, fire } = require('../shim/load')

const ok = (data, statusCode = 200) => ({ statusCode, data })
const me = (extra) => Object.assign({ id: 2, nickname: '小王', avatar_url: null, phone_bound: false, roles: [] }, extra)

async function open(routes) {
  shim.setStorage('token', 'T')
  shim.setStorage('user', { id: 2, nickname: '小王', roles: [] })
  shim.routes(routes)
  const p = mount('pages/me/me')
  await p.instance.onLoad()
  return p
}

describe('pages/me', () => {
  test('renders the account; links: workbench only with roles, dev login only in develop', async () => {
    shim.setEnv('release')
    const p = await open({ 'GET /me': ok(me()) })
    expect(p.data.state).toBe('ready')
    expect(text(p, '#current-nickname')).toBe('小王')
    expect(p.data.nickname).toBe('小王')
    expect(text(p, '#phone-unbound')).toBe('未绑定')
    expect(p.querySelector('#bind-phone')).toBeDefined()
    expect(p.querySelector('#workbench')).toBeUndefined()
    expect(p.querySelector('#dev-login')).toBeUndefined()

    shim.setEnv('develop')
    const q = await open({ 'GET /me': ok(me({ phone_bound: true, phone_masked: '138****0000', roles: [{ role: 'secretary', scope_type: 'fund', scope_id: 1 }] })) })
    expect(text(q, '#phone-bound')).toBe('已绑定 138****0000')
    expect(q.querySelector('#bind-phone')).toBeUndefined()
    await fire(q, '#workbench')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/workbench/workbench' })
    await fire(q, '#dev-login')
    expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/dev-login/dev-login' })
    // the stored user follows the roles from GET /me (the donations page reads them)
    expect(shim.storage().user.roles).toHaveLength(1)
  })

  test('nickname: empty and too long are refused locally; a good one is PATCHed and shown', async () => {
    let body = null
    const p = await open({
      'GET /me': ok(me()),
      'PATCH /me': (data) => { body = data; return ok(me({ nickname: data.nickname })) }
    })
    await fire(p, '#nickname', 'input', { detail: { value: '   ' } })
    await fire(p, '#save-nickname')
    expect(text(p, '#nickname-error')).toBe('请填写昵称')
    await fire(p, '#nickname', 'input', { detail: { value: '一二三四五六七八九十一二三四五六七八九十一' } })
    await fire(p, '#save-nickname')
    expect(text(p, '#nickname-error')).toBe('昵称最多 20 个字')
    expect(shim.requests.filter((r) => r.method === 'PATCH')).toHaveLength(0)

    await fire(p, '#nickname', 'input', { detail: { value: ' 热心邻居 ' } })
    expect(p.querySelector('#nickname-error')).toBeUndefined()
    await fire(p, '#save-nickname')
    expect(body).toEqual({ nickname: '热心邻居' })
    expect(text(p, '#current-nickname')).toBe('热心邻居')
    expect(shim.storage().user.nickname).toBe('热心邻居')
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '昵称已保存' }))
  })

  test('nickname refused by the API shows its message', async () => {
    const p = await open({
      'GET /me': ok(me()),
      'PATCH /me': shim.apiError(422, 'content_risky', '昵称含有不适宜的内容', { nickname: ['昵称含有不适宜的内容，请修改'] })
    })
    await fire(p, '#nickname', 'input', { detail: { value: '坏名字' } })
    await fire(p, '#save-nickname')
    expect(text(p, '#nickname-error')).toBe('昵称含有不适宜的内容，请修改')
    expect(text(p, '#current-nickname')).toBe('小王')

    shim.routes({ 'GET /me': ok(me()), 'PATCH /me': shim.apiError(429, 'rate_limited', '操作太频繁，请稍后再试') })
    await fire(p, '#save-nickname')
    expect(text(p, '#nickname-error')).toBe('操作太频繁，请稍后再试')
  })

  test('phone: the getPhoneNumber code is posted and 已绑定 shown; a refusal posts nothing', async () => {
    let body = null
    const p = await open({
      'GET /me': ok(me()),
      'POST /me/phone': (data) => { body = data; return ok(me({ phone_bound: true, phone_masked: '139****1234' })) }
    })
    await fire(p, '#bind-phone', 'getphonenumber', { detail: { errMsg: 'getPhoneNumber:fail user deny' } })
    expect(text(p, '#phone-error')).toBe('未授权手机号，可稍后再绑定')
    expect(shim.requests.filter((r) => r.method === 'POST')).toHaveLength(0)

    await fire(p, '#bind-phone', 'getphonenumber', { detail: { errMsg: 'getPhoneNumber:ok', code: 'pc-1' } })
    expect(body).toEqual({ code: 'pc-1' })
    expect(text(p, '#phone-bound')).toBe('已绑定 139****1234')
    expect(p.querySelector('#bind-phone')).toBeUndefined()
    expect(p.querySelector('#phone-error')).toBeUndefined()
  })

  test('phone: the API message is shown when binding fails', async () => {
    const p = await open({
      'GET /me': ok(me()),
      'POST /me/phone': shim.apiError(400, 'invalid_code', '手机号授权已过期，请重新获取')
    })
    await fire(p, '#bind-phone', 'getphonenumber', { detail: { errMsg: 'getPhoneNumber:ok', code: 'old' } })
    expect(text(p, '#phone-error')).toBe('手机号授权已过期，请重新获取')
    expect(text(p, '#phone-unbound')).toBe('未绑定')
  })

  test('delete: cancelling the modal does nothing; confirming deletes, logs out and relaunches', async () => {
    const p = await open({ 'GET /me': ok(me()), 'DELETE /me': { statusCode: 204, data: '' } })
    shim.mockModal(() => ({ confirm: false, cancel: true }))
    await fire(p, '#delete')
    expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '注销账号' }))
    expect(shim.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0)
    expect(shim.storage().token).toBe('T')

    shim.mockModal(() => ({ confirm: true, cancel: false }))
    await fire(p, '#delete')
    expect(shim.requests.filter((r) => r.method === 'DELETE' && r.path === '/api/v1/me')).toHaveLength(1)
    expect(shim.storage().token).toBeUndefined()
    expect(shim.storage().user).toBeUndefined()
    expect(wx.reLaunch).toHaveBeenCalledWith({ url: '/pages/index/index' })
  })

  test('delete: an API refusal is shown and the session kept', async () => {
    const p = await open({ 'GET /me': ok(me()), 'DELETE /me': shim.apiError(409, 'refund_pending', '有退款正在处理，暂不能注销') })
    await fire(p, '#delete')
    expect(text(p, '#delete-error')).toBe('有退款正在处理，暂不能注销')
    expect(shim.storage().token).toBe('T')
    expect(wx.reLaunch).not.toHaveBeenCalled()
  })

  test('a failed load shows the message and retries', async () => {
    let fail = true
    const p = await open({ 'GET /me': () => (fail ? shim.apiError(500, 'internal_error', '服务器内部错误') : ok(me())) })
    expect(p.data.state).toBe('error')
    expect(text(p.querySelector('#sv'), '.sv-message')).toBe('服务器内部错误')
    fail = false
    await fire(p.querySelector('#sv'), '#retry')
    expect(p.data.state).toBe('ready')
    expect(text(p, '#current-nickname')).toBe('小王')
  })
})
