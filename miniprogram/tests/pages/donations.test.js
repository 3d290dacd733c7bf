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
    expect(shim.requests.filter((r) => r.path === '/api/v1/me/donations').map((r) => r.query.cursor)).toEqual([undefined, 'n2'])
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

  test('refunded and refunding amounts, Chinese status words, and the refunds with reason and status', async () => {
    shim.routes({
      'GET /me/donations': { statusCode: 200, data: { items: [
        d(1, { status: 'partially_refunded', refunded_fen: 1000, refunding_fen: 0, certificate_no: 'LS-2024-0001' }),
        d(2, { status: 'refunding', refunded_fen: 0, refunding_fen: 5000 }),
        d(3, { status: 'refunded', refunded_fen: 5000, certificate_no: null }),
        d(4, { refunded_fen: 0, refunding_fen: 0 })
      ], next_cursor: null } },
      'GET /donations/1/refunds': { statusCode: 200, data: { items: [
        { id: 9, donation_id: 1, amount_fen: 1000, reason: '项目提前结束', status: 'succeeded', failure: null, created_at: '2024-05-01T09:00:00+08:00', settled_at: '2024-05-01T09:01:00+08:00' },
        { id: 8, donation_id: 1, amount_fen: 500, reason: '重复捐款', status: 'failed', failure: '原支付账户已注销', created_at: '2024-04-30T09:00:00+08:00', settled_at: null }
      ] } },
      'GET /donations/2/refunds': { statusCode: 200, data: { items: [{ id: 10, donation_id: 2, amount_fen: 5000, reason: '项目取消', status: 'processing', created_at: '2024-05-02T10:00:00+08:00' }] } },
      'GET /donations/3/refunds': shim.apiError(500, 'internal_error', '服务暂时不可用')
    })
    const page = mount('pages/donations/donations')
    await page.instance.onLoad()
    const text = (sel) => page.querySelector(sel).dom.textContent.replace(/\s+/g, ' ').trim()
    expect(text('#donation-1 .status')).toBe('部分退款')
    expect(text('#donation-2 .status')).toBe('退款中')
    expect(text('#donation-3 .status')).toBe('已退款')
    expect(text('#donation-1 .refund-sum')).toBe('已退款 ¥10.00')
    expect(text('#donation-2 .refund-sum')).toBe('退款中 ¥50.00')
    expect(text('#donation-1 .refund-box')).toContain('项目提前结束')
    expect(text('#donation-1 .refund-succeeded')).toContain('已退款')
    expect(text('#donation-1 .refund-succeeded')).toContain('2024-05-01 09:01')
    expect(text('#donation-1 .refund-failed')).toContain('退款失败')
    expect(text('#donation-1 .refund-failure')).toBe('原支付账户已注销')
    expect(text('#donation-2 .refund-processing')).toContain('¥50.00退款中')
    expect(text('#donation-3 .refunds-error')).toContain('服务暂时不可用')
    // a plain paid donation asks for no refunds and shows no refund lines
    expect(shim.requests.some((r) => r.path === '/api/v1/donations/4/refunds')).toBe(false)
    expect(page.querySelector('#donation-4 .refund-sum')).toBeUndefined()
    // only a donation with a certificate number has the certificate button
    expect(page.querySelector('#cert-1')).toBeDefined()
    expect(page.querySelector('#cert-3')).toBeUndefined()
    expect(page.querySelector('#cert-4')).toBeUndefined()
  })

  describe('the certificate', () => {
    const PNG = '/tmp/cert-1.png'
    async function open() {
      shim.setStorage('token', 'T1')
      shim.routes({ 'GET /me/donations': { statusCode: 200, data: { items: [d(1, { certificate_no: 'LS-2024-0001' })], next_cursor: null } } })
      const page = mount('pages/donations/donations')
      await page.instance.onLoad()
      return { page, cert: page.querySelector('#cert-1') }
    }

    test('downloads the PNG with the token, previews it, saves it to the album', async () => {
      shim.mockDownload(() => ({ statusCode: 200, tempFilePath: PNG }))
      const { cert } = await open()
      expect(cert.dom.textContent).toContain('证书编号 LS-2024-0001')
      await fire(cert, '#cert-open')
      expect(shim.downloads).toHaveLength(1)
      expect(shim.downloads[0].url).toBe('http://api.test/api/v1/donations/1/certificate')
      expect(shim.downloads[0].header.Authorization).toBe('Bearer T1')
      expect(wx.previewImage).toHaveBeenCalledWith({ urls: [PNG], current: PNG })
      await fire(cert, '#cert-save')
      expect(wx.saveImageToPhotosAlbum).toHaveBeenCalledWith(expect.objectContaining({ filePath: PNG }))
      expect(cert.querySelector('#cert-notice').dom.textContent).toBe('证书已保存到相册')
      // a second look reuses the file
      await fire(cert, '#cert-open')
      expect(shim.downloads).toHaveLength(1)
      expect(wx.previewImage).toHaveBeenCalledTimes(2)
    })

    test('a refused album permission explains itself and leads to the settings', async () => {
      shim.mockDownload(() => ({ statusCode: 200, tempFilePath: PNG }))
      shim.mockSaveImage(() => ({ errMsg: 'saveImageToPhotosAlbum:fail auth deny' }))
      shim.mockModal(() => ({ confirm: false, cancel: true }))
      const { cert } = await open()
      await fire(cert, '#cert-open')
      await fire(cert, '#cert-save')
      expect(cert.querySelector('#cert-error').dom.textContent).toContain('没有保存到相册的权限')
      expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ confirmText: '去设置' }))
      expect(wx.openSetting).not.toHaveBeenCalled()
      shim.mockOpenSetting(() => ({ errMsg: 'openSetting:ok', authSetting: { 'scope.writePhotosAlbum': true } }))
      await fire(cert, '#cert-setting')
      expect(wx.openSetting).toHaveBeenCalledTimes(1)
      expect(cert.querySelector('#cert-error')).toBeUndefined()
      expect(cert.querySelector('#cert-notice').dom.textContent).toContain('请再点一次保存')
      // agreeing in the modal opens the settings straight away
      shim.mockModal(() => ({ confirm: true, cancel: false }))
      shim.mockOpenSetting(() => ({ errMsg: 'openSetting:ok', authSetting: {} }))
      await fire(cert, '#cert-save')
      expect(wx.openSetting).toHaveBeenCalledTimes(2)
      expect(cert.querySelector('#cert-error').dom.textContent).toContain('没有保存到相册的权限')
    })

    test('a cancelled save says nothing; a failed download shows the API message', async () => {
      shim.mockDownload(() => ({ statusCode: 200, tempFilePath: PNG }))
      shim.mockSaveImage(() => ({ errMsg: 'saveImageToPhotosAlbum:fail cancel' }))
      const { cert } = await open()
      await fire(cert, '#cert-open')
      await fire(cert, '#cert-save')
      expect(cert.querySelector('#cert-error')).toBeUndefined()
      expect(cert.querySelector('#cert-notice')).toBeUndefined()

      const { cert: other } = await open()
      shim.mockDownload(() => ({ statusCode: 409, data: JSON.stringify({ code: 409, error: 'no_certificate', message: '该捐赠已全额退款，无证书' }) }))
      await fire(other, '#cert-open')
      expect(other.querySelector('#cert-error').dom.textContent).toBe('该捐赠已全额退款，无证书')
      expect(other.querySelector('#cert-save')).toBeUndefined()
      shim.mockDownload(() => ({ statusCode: 404 }))
      await fire(other, '#cert-open')
      expect(other.querySelector('#cert-error').dom.textContent).toBe('捐赠记录不存在')
      shim.mockDownload(() => ({ fail: true }))
      await fire(other, '#cert-open')
      expect(other.querySelector('#cert-error').dom.textContent).toContain('网络连接失败')
    })
  })

  test('subscribe-message consent uses the backend\'s template ids when config has none', async () => {
    shim.mockSubscribe(() => ({ errMsg: 'requestSubscribeMessage:ok', TPL_PAID: 'accept', TPL_SPENT: 'reject' }))
    let remaining = 0
    shim.routes({
      'GET /me/donations': { statusCode: 200, data: { items: [], next_cursor: null } },
      'GET /me/subscriptions': () => ({ statusCode: 200, data: {
        templates: [{ kind: 'donation_paid', template_id: 'TPL_PAID', title: '捐赠成功通知' }, { kind: 'money_spent', template_id: 'TPL_SPENT', title: '善款使用通知' }],
        consents: [{ template_id: 'TPL_PAID', remaining }]
      } }),
      'POST /me/subscriptions': (data) => { remaining += 1; return { statusCode: 201, data: { templates: [], consents: [] } } }
    })
    const page = mount('pages/donations/donations')
    await page.instance.onLoad()
    expect(page.querySelector('#subscribe-card')).toBeDefined()
    expect(page.querySelector('#subscribe-tip').dom.textContent).not.toContain('还可接收')
    await fire(page, '#subscribe')
    expect(wx.requestSubscribeMessage).toHaveBeenCalledWith(expect.objectContaining({ tmplIds: ['TPL_PAID', 'TPL_SPENT'] }))
    const posts = shim.requests.filter((r) => r.method === 'POST')
    expect(posts.map((r) => r.data)).toEqual([{ template_ids: ['TPL_PAID'] }])
    expect(page.data.subscribed).toBe(true)
    expect(page.querySelector('#subscribe-tip').dom.textContent).toContain('还可接收 1 条')
  })

  test('the remaining consents may also come on the templates themselves', async () => {
    shim.routes({
      'GET /me/donations': { statusCode: 200, data: { items: [], next_cursor: null } },
      'GET /me/subscriptions': { statusCode: 200, data: { templates: [
        { kind: 'donation_paid', template_id: 'T1', title: '捐赠成功通知', remaining: 2 },
        { kind: 'money_spent', template_id: 'T2', title: '善款使用通知', remaining: 1 }
      ] } }
    })
    const page = mount('pages/donations/donations')
    await page.instance.onLoad()
    expect(page.querySelector('#subscribe-tip').dom.textContent).toContain('还可接收 3 条')
  })

  test('no templates, no consent button; a refused consent records nothing', async () => {
    shim.routes({
      'GET /me/donations': { statusCode: 200, data: { items: [], next_cursor: null } },
      'GET /me/subscriptions': { statusCode: 200, data: { templates: [], consents: [] } }
    })
    const page = mount('pages/donations/donations')
    await page.instance.onLoad()
    expect(page.querySelector('#subscribe-card')).toBeUndefined()

    shim.routes({
      'GET /me/donations': { statusCode: 200, data: { items: [], next_cursor: null } },
      'GET /me/subscriptions': { statusCode: 200, data: { templates: [{ kind: 'donation_paid', template_id: 'T1', title: 'x' }], consents: [] } }
    })
    shim.mockSubscribe(() => ({ errMsg: 'requestSubscribeMessage:ok', T1: 'reject' }))
    const other = mount('pages/donations/donations')
    await other.instance.onLoad()
    await fire(other, '#subscribe')
    expect(wx.requestSubscribeMessage).toHaveBeenCalledTimes(1)
    expect(shim.requests.some((r) => r.method === 'POST')).toBe(false)
    expect(other.data.subscribed).toBe(false)
  })
})
