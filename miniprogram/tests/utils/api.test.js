const shim = require('../shim/wx')
const api = require('../../utils/api')

const ok = (data, statusCode = 200) => ({ statusCode, data })

describe('utils/api', () => {
  test('GET builds the URL under /api/v1 with the query, skipping empty values', async () => {
    shim.mockRequest(() => ok({ items: [], next_cursor: null }))
    const res = await api.get('/needs', { region_id: 3, cursor: null, q: '老人 助餐' })
    expect(res).toEqual({ items: [], next_cursor: null })
    expect(shim.requests[0].url).toBe('http://api.test/api/v1/needs?region_id=3&q=%E8%80%81%E4%BA%BA%20%E5%8A%A9%E9%A4%90')
    expect(shim.requests[0].method).toBe('GET')
  })

  test('sends the bearer token when logged in, none otherwise', async () => {
    shim.mockRequest(() => ok({}))
    await api.get('/me')
    expect(shim.requests[0].header.Authorization).toBeUndefined()
    shim.setStorage('token', 'T1')
    await api.get('/me')
    expect(shim.requests[1].header.Authorization).toBe('Bearer T1')
  })

  test('POST sets Idempotency-Key from options and sends the JSON body', async () => {
    shim.mockRequest(() => ok({ id: 7 }, 201))
    const res = await api.post('/donations', { need_id: 1, amount_fen: 1000 }, { idempotencyKey: 'k-1' })
    expect(res).toEqual({ id: 7 })
    const r = shim.requests[0]
    expect(r.method).toBe('POST')
    expect(r.header['Idempotency-Key']).toBe('k-1')
    expect(r.data).toEqual({ need_id: 1, amount_fen: 1000 })
  })

  test('no Idempotency-Key header without the option', async () => {
    shim.mockRequest(() => ok({}))
    await api.post('/me/subscriptions', { template_ids: [] })
    expect(shim.requests[0].header['Idempotency-Key']).toBeUndefined()
  })

  test('PATCH and DELETE use their methods; 204 resolves null', async () => {
    shim.mockRequest((method) => (method === 'DELETE' ? { statusCode: 204, data: '' } : ok({ nickname: 'A' })))
    expect(await api.patch('/me', { nickname: 'A' })).toEqual({ nickname: 'A' })
    expect(await api.del('/me')).toBeNull()
    expect(shim.requests.map((r) => r.method)).toEqual(['PATCH', 'DELETE'])
  })

  test('a network failure is retried once, then succeeds', async () => {
    let n = 0
    shim.mockRequest(() => (++n === 1 ? { fail: true } : ok({ ok: 1 })))
    expect(await api.get('/regions')).toEqual({ ok: 1 })
    expect(shim.requests).toHaveLength(2)
  })

  test('two network failures reject with a network ApiError', async () => {
    shim.mockRequest(() => ({ fail: true }))
    const err = await api.get('/regions').catch((e) => e)
    expect(err).toBeInstanceOf(api.ApiError)
    expect(err).toMatchObject({ status: 0, error: 'network_error', message: '网络连接失败，请检查网络后重试' })
    expect(shim.requests).toHaveLength(2)
  })

  test('maps the contract error body to ApiError without retrying', async () => {
    shim.mockRequest(() => shim.apiError(409, 'need_not_open', '该项目已结束筹款', { need_id: ['closed'] }))
    const err = await api.post('/donations', {}).catch((e) => e)
    expect(err).toBeInstanceOf(api.ApiError)
    expect(err).toMatchObject({ status: 409, error: 'need_not_open', message: '该项目已结束筹款', errors: { need_id: ['closed'] } })
    expect(shim.requests).toHaveLength(1)
  })

  test('a 5xx without a body gets a Chinese message', async () => {
    shim.mockRequest(() => ({ statusCode: 502, data: '<html>bad gateway</html>' }))
    const err = await api.get('/stats').catch((e) => e)
    expect(err.status).toBe(502)
    expect(err.message).toBe('服务暂时不可用，请稍后再试')
  })

  test('login: wx.login code goes to /auth/wechat-login; token and user are stored', async () => {
    shim.mockLogin(() => ({ code: 'abc' }))
    shim.mockRequest((method, url, data) => ok({ token: 'TK', user: { id: 5, nickname: '居民' } }))
    const user = await api.login()
    expect(user).toEqual({ id: 5, nickname: '居民' })
    expect(shim.requests[0].path).toBe('/api/v1/auth/wechat-login')
    expect(shim.requests[0].data).toEqual({ code: 'abc' })
    expect(shim.storage().token).toBe('TK')
    expect(api.currentUser()).toEqual({ id: 5, nickname: '居民' })
    expect(api.isLoggedIn()).toBe(true)
    api.logout()
    expect(api.currentUser()).toBeNull()
    expect(api.isLoggedIn()).toBe(false)
  })

  test('loginWithCode logs in with the given code', async () => {
    shim.mockRequest(() => ok({ token: 'DEV', user: { id: 9 } }))
    await api.loginWithCode('alice.123')
    expect(shim.requests[0].data).toEqual({ code: 'alice.123' })
    expect(shim.storage().token).toBe('DEV')
  })

  test('a 401 re-logs in silently once and retries with the new token', async () => {
    shim.setStorage('token', 'OLD')
    shim.mockRequest((method, url, data, header) => {
      if (url.endsWith('/auth/wechat-login')) return ok({ token: 'NEW', user: { id: 1 } })
      return header.Authorization === 'Bearer NEW' ? ok({ id: 1 }) : shim.apiError(401, 'unauthorized', '请先登录')
    })
    expect(await api.get('/me')).toEqual({ id: 1 })
    expect(shim.requests.map((r) => r.path)).toEqual(['/api/v1/me', '/api/v1/auth/wechat-login', '/api/v1/me'])
    expect(wx.login).toHaveBeenCalledTimes(1)
  })

  test('a second 401 after re-login rejects (no loop)', async () => {
    shim.mockRequest((method, url) => (url.endsWith('/auth/wechat-login')
      ? ok({ token: 'NEW', user: { id: 1 } })
      : shim.apiError(401, 'unauthorized', '登录已过期')))
    const err = await api.get('/me').catch((e) => e)
    expect(err).toMatchObject({ status: 401, message: '登录已过期' })
    expect(shim.requests).toHaveLength(3)
  })

  test('concurrent 401s share one login', async () => {
    shim.setStorage('token', 'OLD')
    shim.mockRequest((method, url, data, header) => {
      if (url.endsWith('/auth/wechat-login')) return ok({ token: 'NEW', user: { id: 1 } })
      return header.Authorization === 'Bearer NEW' ? ok({}) : shim.apiError(401, 'unauthorized', '请先登录')
    })
    await Promise.all([api.get('/me'), api.get('/me/donations')])
    expect(wx.login).toHaveBeenCalledTimes(1)
  })

  test('upload posts the file as field "file" with the token and parses the JSON answer', async () => {
    shim.setStorage('token', 'T')
    shim.mockUpload((url, filePath, name, header) => ({ statusCode: 201, data: JSON.stringify({ id: 3, url: 'https://x/3.jpg', name, auth: header.Authorization }) }))
    const res = await api.upload('/tmp/photo.jpg')
    expect(res).toEqual({ id: 3, url: 'https://x/3.jpg', name: 'file', auth: 'Bearer T' })
    expect(shim.uploads[0].url).toBe('http://api.test/api/v1/uploads')
    expect(shim.uploads[0].filePath).toBe('/tmp/photo.jpg')
  })

  test('upload errors map the string body; network failure is retried once', async () => {
    let n = 0
    shim.mockUpload(() => (++n === 1 ? { fail: true } : { statusCode: 413, data: JSON.stringify({ error: 'too_large', message: '文件超过 10 MB' }) }))
    const err = await api.upload('/tmp/big.pdf').catch((e) => e)
    expect(err).toMatchObject({ status: 413, error: 'too_large', message: '文件超过 10 MB' })
    expect(shim.uploads).toHaveLength(2)
  })

  test('paths under /api/ are used as they are', () => {
    expect(api.buildUrl('/api/v1/dev/sandbox-pay')).toBe('http://api.test/api/v1/dev/sandbox-pay')
  })

  test('newIdempotencyKey gives different keys', () => {
    expect(api.newIdempotencyKey()).not.toBe(api.newIdempotencyKey())
  })

  test('rememberUser merges into the stored user only when logged in', () => {
    api.rememberUser({ nickname: '小王' })
    expect(shim.storage().user).toBeUndefined()
    shim.setStorage('token', 'T')
    shim.setStorage('user', { id: 2, nickname: '旧', roles: [] })
    api.rememberUser({ nickname: '小王', roles: [{ role: 'committee', scope_type: 'fund', scope_id: 1 }] })
    expect(api.currentUser()).toEqual({ id: 2, nickname: '小王', roles: [{ role: 'committee', scope_type: 'fund', scope_id: 1 }] })
  })

  describe('download', () => {
    test('GETs the file with the token and resolves its temp path', async () => {
      shim.setStorage('token', 'T1')
      shim.mockDownload(() => ({ statusCode: 200, tempFilePath: '/tmp/c.png' }))
      const path = await api.download('/donations/5/certificate', { size: 'a4' })
      expect(path).toBe('/tmp/c.png')
      expect(shim.downloads).toHaveLength(1)
      expect(shim.downloads[0].url).toBe('http://api.test/api/v1/donations/5/certificate?size=a4')
      expect(shim.downloads[0].header).toEqual({ Authorization: 'Bearer T1' })
    })

    test('a 401 re-logs in once and downloads again with the new token', async () => {
      shim.setStorage('token', 'OLD')
      shim.mockRequest((method, url, data) => (url.endsWith('/auth/wechat-login')
        ? ok({ token: 'NEW', user: { id: 1 } })
        : shim.apiError(404, 'not_found', '未找到')))
      shim.mockDownload((url, options) => (options.header.Authorization === 'Bearer NEW'
        ? { statusCode: 200, tempFilePath: '/tmp/ok.png' }
        : { statusCode: 401, data: JSON.stringify({ code: 401, error: 'unauthorized', message: '请先登录' }) }))
      const path = await api.download('/donations/5/certificate')
      expect(path).toBe('/tmp/ok.png')
      expect(shim.downloads.map((d) => d.header.Authorization)).toEqual(['Bearer OLD', 'Bearer NEW'])
      expect(shim.requests.map((r) => r.path)).toEqual(['/api/v1/auth/wechat-login'])
      expect(shim.storage().token).toBe('NEW')
    })

    test('a second 401 rejects without looping', async () => {
      shim.mockRequest(() => ok({ token: 'NEW', user: { id: 1 } }))
      shim.mockDownload(() => ({ statusCode: 401 }))
      const err = await api.download('/donations/5/certificate').catch((e) => e)
      expect(err).toBeInstanceOf(api.ApiError)
      expect(err).toMatchObject({ status: 401, message: '请先登录' })
      expect(shim.downloads).toHaveLength(2)
    })

    test('an error answer maps to an ApiError with the body\'s Chinese message', async () => {
      shim.mockDownload(() => ({ statusCode: 409, data: JSON.stringify({ code: 409, status: 'Conflict', error: 'no_certificate', message: '这笔捐赠没有证书' }) }))
      const err = await api.download('/donations/5/certificate').catch((e) => e)
      expect(err).toMatchObject({ status: 409, error: 'no_certificate', message: '这笔捐赠没有证书' })
    })

    test('an unreadable error body gives the caller\'s words for the status, else the generic ones', async () => {
      shim.mockDownload(() => ({ statusCode: 409 }))
      const mine = await api.download('/x', null, { messages: { 409: '暂无证书' } }).catch((e) => e)
      expect(mine).toMatchObject({ status: 409, error: 'http_409', message: '暂无证书' })
      const generic = await api.download('/x').catch((e) => e)
      expect(generic.message).toBe('操作冲突，请刷新后重试')
      shim.mockDownload(() => ({ statusCode: 502, data: '<html>bad gateway</html>' }))
      const server = await api.download('/x').catch((e) => e)
      expect(server).toMatchObject({ status: 502, message: '服务暂时不可用，请稍后再试' })
    })

    test('a network failure is retried once, then rejects with the network message', async () => {
      let calls = 0
      shim.mockDownload(() => (++calls === 1 ? { fail: true } : { statusCode: 200, tempFilePath: '/tmp/second.png' }))
      expect(await api.download('/x')).toBe('/tmp/second.png')
      shim.mockDownload(() => ({ fail: true }))
      const err = await api.download('/x').catch((e) => e)
      expect(err).toMatchObject({ status: 0, error: 'network_error', message: api.NETWORK_MESSAGE })
      expect(shim.downloads).toHaveLength(4)
    })
  })
})
