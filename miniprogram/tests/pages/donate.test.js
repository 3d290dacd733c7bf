const shim = require('../shim/wx')
const config = require('../../config')
const { mount, fire, flush } = require('../shim/load')

const order = { id: 11, out_trade_no: 'LS11', status: 'pending', amount_fen: 5000, payment: { timeStamp: '1', nonceStr: 'n', package: 'prepay_id=p', signType: 'MD5', paySign: 's' } }

function serve(over = {}) {
  let polls = 0
  shim.routes(Object.assign({
    'GET /needs/7': { statusCode: 200, data: { id: 7, title: '老人助餐' } },
    'POST /donations': { statusCode: 201, data: order },
    'POST /dev/sandbox-pay': { statusCode: 200, data: { ok: true } },
    'GET /donations/11': () => ({ statusCode: 200, data: { id: 11, status: ++polls >= 2 ? 'paid' : 'pending' } }),
    'POST /me/subscriptions': { statusCode: 201, data: {} }
  }, over))
}
const posted = (path) => shim.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1' + path)

async function run(page) {
  const p = page.instance.onSubmit()
  for (let i = 0; i < 10; i++) { jest.advanceTimersByTime(1500); await flush() }
  await p
}

describe('pages/donate', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => { jest.useRealTimers(); jest.restoreAllMocks() })

  test('develop: ¥50 preset, anonymous and message → order with Idempotency-Key → sandbox pay → polls until paid', async () => {
    serve()
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ need_id: '7', space_code: 'SP1' })
    expect(page.querySelector('#title').dom.textContent).toBe('老人助餐')
    await fire(page, '#preset-5000')
    await fire(page, '#anonymous', 'change', { detail: { value: true } })
    await fire(page, '#message', 'input', { detail: { value: ' 加油 ' } })
    await run(page)
    const [donation] = posted('/donations')
    expect(donation.data).toEqual({ need_id: 7, amount_fen: 5000, anonymous: true, message: '加油', space_code: 'SP1' })
    expect(donation.header['Idempotency-Key']).toMatch(/.{8,}/)
    expect(posted('/dev/sandbox-pay')[0].data).toEqual({ out_trade_no: 'LS11' })
    expect(wx.requestPayment).not.toHaveBeenCalled()
    expect(shim.requests.filter((r) => r.path === '/api/v1/donations/11').length).toBe(2)
    expect(page.data.step).toBe('done')
    expect(page.querySelector('#paid-text').dom.textContent).toContain('¥50.00')
  })

  test('release: wx.requestPayment gets the payment as it is', async () => {
    shim.setEnv('release')
    serve()
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ need_id: '7' })
    await run(page)
    expect(wx.requestPayment).toHaveBeenCalledWith(expect.objectContaining(order.payment))
    expect(posted('/dev/sandbox-pay')).toHaveLength(0)
    expect(page.data.step).toBe('done')
  })

  test('a cancelled payment is not an error; retrying reuses the Idempotency-Key', async () => {
    shim.setEnv('release')
    shim.mockPayment(() => ({ errMsg: 'requestPayment:fail cancel' }))
    serve()
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ need_id: '7' })
    await run(page)
    expect(page.data.step).toBe('form')
    expect(wx.showToast).toHaveBeenCalledWith({ title: '已取消支付', icon: 'none' })
    expect(shim.requests.filter((r) => r.path === '/api/v1/donations/11')).toHaveLength(0)
    await run(page)
    const keys = posted('/donations').map((r) => r.header['Idempotency-Key'])
    expect(keys).toHaveLength(2)
    expect(keys[0]).toBe(keys[1])
  })

  test('other amount is validated with toFen', async () => {
    serve()
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ need_id: '7' })
    await fire(page, '#other')
    await fire(page, '#other-input', 'input', { detail: { value: '12.345' } })
    await page.instance.onSubmit()
    expect(page.querySelector('#amount-error').dom.textContent).toContain('请输入正确的金额')
    expect(posted('/donations')).toHaveLength(0)
    await fire(page, '#other-input', 'input', { detail: { value: '12.3' } })
    await run(page)
    expect(posted('/donations')[0].data.amount_fen).toBe(1230)
  })

  test('an API error shows its message and returns to the form', async () => {
    serve({ 'POST /donations': shim.apiError(409, 'need_not_open', '该项目已结束筹款') })
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ need_id: '7' })
    await run(page)
    expect(wx.showToast).toHaveBeenCalledWith({ title: '该项目已结束筹款', icon: 'none' })
    expect(page.data.step).toBe('form')
  })

  test('subscription consent is recorded; a 404 from the endpoint is ignored quietly', async () => {
    jest.spyOn(config, 'subscribeTemplateIds').mockReturnValue(['T1', 'T2'])
    shim.mockSubscribe(() => ({ errMsg: 'requestSubscribeMessage:ok', T1: 'accept', T2: 'reject' }))
    serve()
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ need_id: '7' })
    await run(page)
    await fire(page, '#subscribe')
    expect(wx.requestSubscribeMessage).toHaveBeenCalledWith(expect.objectContaining({ tmplIds: ['T1', 'T2'] }))
    expect(posted('/me/subscriptions')[0].data).toEqual({ template_ids: ['T1'] })
    expect(page.data.subscribed).toBe(true)

    serve({ 'POST /me/subscriptions': shim.apiError(404, 'not_found', '未找到') })
    wx.showToast.mockClear()
    await page.instance.onSubscribe()
    expect(wx.showToast).not.toHaveBeenCalled()
  })

  test('a fund donation from a space posts fund_id and space_code', async () => {
    serve()
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ fund_id: '3', space_code: 'SP1' })
    await run(page)
    expect(posted('/donations')[0].data).toMatchObject({ fund_id: 3, space_code: 'SP1', amount_fen: 1000 })
  })

  test('without ids in config the consent asks for the templates of GET /me/subscriptions', async () => {
    shim.mockSubscribe(() => ({ errMsg: 'requestSubscribeMessage:ok', TPL_PAID: 'accept', TPL_SPENT: 'accept' }))
    serve({ 'GET /me/subscriptions': { statusCode: 200, data: { templates: [
      { kind: 'donation_paid', template_id: 'TPL_PAID', title: '捐赠成功通知' },
      { kind: 'money_spent', template_id: 'TPL_SPENT', title: '善款使用通知' }
    ], consents: [] } } })
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ need_id: '7' })
    expect(page.data.canSubscribe).toBe(true)
    await run(page)
    await fire(page, '#subscribe')
    expect(wx.requestSubscribeMessage).toHaveBeenCalledWith(expect.objectContaining({ tmplIds: ['TPL_PAID', 'TPL_SPENT'] }))
    expect(posted('/me/subscriptions')[0].data).toEqual({ template_ids: ['TPL_PAID', 'TPL_SPENT'] })
    expect(page.querySelector('#subscribe')).toBeUndefined()
  })

  test('config ids win over the backend\'s; no ids anywhere, no consent button', async () => {
    jest.spyOn(config, 'subscribeTemplateIds').mockReturnValue(['CFG'])
    serve({ 'GET /me/subscriptions': { statusCode: 200, data: { templates: [{ kind: 'donation_paid', template_id: 'TPL_PAID', title: 'x' }], consents: [] } } })
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ need_id: '7' })
    await run(page)
    await fire(page, '#subscribe')
    expect(wx.requestSubscribeMessage).toHaveBeenCalledWith(expect.objectContaining({ tmplIds: ['CFG'] }))

    jest.restoreAllMocks()
    serve({ 'GET /me/subscriptions': shim.apiError(500, 'internal_error', '服务暂时不可用') })
    const other = mount('pages/donate/donate')
    await other.instance.onLoad({ need_id: '7' })
    await run(other)
    expect(other.data.step).toBe('done')
    expect(other.data.canSubscribe).toBe(false)
    expect(other.querySelector('#subscribe')).toBeUndefined()
  })

  test('the result offers the donation certificate when the paid donation has one', async () => {
    let polls = 0
    serve({ 'GET /donations/11': () => ({ statusCode: 200, data: { id: 11, status: ++polls >= 2 ? 'paid' : 'pending', certificate_no: polls >= 2 ? 'LS-11' : null } }) })
    shim.mockDownload(() => ({ statusCode: 200, tempFilePath: '/tmp/cert-11.png' }))
    const page = mount('pages/donate/donate')
    await page.instance.onLoad({ need_id: '7' })
    await run(page)
    const cert = page.querySelector('#cert')
    expect(cert).toBeDefined()
    expect(cert.dom.textContent).toContain('LS-11')
    await fire(cert, '#cert-open')
    expect(shim.downloads[0].url).toBe('http://api.test/api/v1/donations/11/certificate')
    expect(wx.previewImage).toHaveBeenCalledWith({ urls: ['/tmp/cert-11.png'], current: '/tmp/cert-11.png' })

    serve()
    const other = mount('pages/donate/donate')
    await other.instance.onLoad({ need_id: '7' })
    await run(other)
    expect(other.data.step).toBe('done')
    expect(other.querySelector('#cert')).toBeUndefined()
  })
})
