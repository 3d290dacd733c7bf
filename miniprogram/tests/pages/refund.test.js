const shim = require('../shim/wx')
const { mount, text, fire, flush } = require('../shim/load')

const ok = (data, statusCode = 200) => ({ statusCode, data })
const refund = (status, extra) => Object.assign({
  id: 21, donation_id: 4, amount_fen: 4000, reason: '项目提前结束', status, failure: null,
  created_at: '2026-03-05T09:00:00+08:00', settled_at: status === 'succeeded' ? '2026-03-05T09:00:02+08:00' : null
}, extra)
const QUERY = { donation_id: '4', need_id: '12', refundable_fen: '4000', name: encodeURIComponent('张**') }

const posts = () => shim.requests.filter((r) => r.method === 'POST')

async function open(table = {}, query = QUERY) {
  shim.routes(Object.assign({ 'GET /donations/4/refunds': ok({ items: [] }) }, table))
  const p = mount('pages/refund/refund')
  await p.instance.onLoad(query)
  return p
}

function type(p, field, value) {
  p.querySelector('#' + field).dispatchEvent('input', { detail: { value } })
  return flush()
}

// Runs the polling timers until the submit's promise settles.
async function submit(p) {
  const done = p.instance.onSubmit()
  for (let i = 0; i < 12; i++) { jest.advanceTimersByTime(1500); await flush() }
  await done
}

describe('pages/refund', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  test('defaults to the refundable amount, confirms, posts in fen with an Idempotency-Key, polls until succeeded', async () => {
    let polls = 0
    const p = await open({
      'POST /donations/4/refunds': ok(refund('requested'), 201),
      'GET /donations/4/refunds': () => ok({ items: polls++ === 0 ? [] : [refund(polls >= 3 ? 'succeeded' : 'processing')] })
    })
    expect(text(p, '#donor')).toBe('张**')
    expect(text(p, '#refundable')).toBe('¥40.00')
    expect(p.data.form.amount).toBe('40.00')
    await type(p, 'amount', '25.5')
    expect(text(p, '#amount-shown')).toBe('将退款 ¥25.50')
    await type(p, 'reason', '  项目提前结束  ')
    await submit(p)
    expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '确认退款', confirmText: '确认退款' }))
    expect(wx.showModal.mock.calls[0][0].content).toContain('¥25.50')
    expect(posts()).toHaveLength(1)
    expect(posts()[0].path).toBe('/api/v1/donations/4/refunds')
    expect(posts()[0].data).toEqual({ amount_fen: 2550, reason: '项目提前结束' })
    expect(posts()[0].header['Idempotency-Key']).toMatch(/.{10,}/)
    expect(p.data.step).toBe('done')
    expect(text(p, '#result-status')).toBe('已退款')
    expect(text(p, '#result-ok')).toContain('款项已原路退回捐赠人')
    expect(text(p, '#result-ok')).toContain('2026-03-05 09:00')
    expect(p.data.polling).toBe(false)
    const asked = shim.requests.filter((r) => r.method === 'GET').length
    jest.advanceTimersByTime(15000)
    await flush()
    expect(shim.requests.filter((r) => r.method === 'GET')).toHaveLength(asked)
    await fire(p, '#back')
    expect(wx.navigateBack).toHaveBeenCalled()
  })

  test('validation: fen only, at most the refundable amount, a reason is required; nothing is sent', async () => {
    const p = await open()
    await type(p, 'amount', '12.345')
    await p.instance.onSubmit()
    expect(text(p, '#amount-error')).toContain('最多两位小数')
    expect(text(p, '#reason-error')).toBe('请填写退款原因')
    await type(p, 'amount', '0')
    await p.instance.onSubmit()
    expect(text(p, '#amount-error')).toContain('请输入退款金额')
    await type(p, 'amount', '40.01')
    await type(p, 'reason', '重复捐款')
    await p.instance.onSubmit()
    expect(text(p, '#amount-error')).toBe('退款金额不能超过可退款金额 ¥40.00')
    expect(p.querySelector('#reason-error')).toBeUndefined()
    await type(p, 'amount', 'abc')
    await p.instance.onSubmit()
    expect(text(p, '#amount-error')).toContain('请输入退款金额')
    expect(wx.showModal).not.toHaveBeenCalled()
    expect(posts()).toHaveLength(0)
    await fire(p, '#all')
    expect(p.data.form.amount).toBe('40.00')
    expect(p.querySelector('#amount-error')).toBeUndefined()
  })

  test('the reason goes as one line, as the API wants it', async () => {
    const p = await open({ 'POST /donations/4/refunds': ok(refund('succeeded'), 201) })
    await type(p, 'reason', ' 项目提前结束\n 剩余善款退还 \r\n')
    await p.instance.onSubmit()
    expect(posts()[0].data).toEqual({ amount_fen: 4000, reason: '项目提前结束 剩余善款退还' })
  })

  test('cancelling the confirm dialog sends nothing', async () => {
    shim.mockModal(() => ({ confirm: false, cancel: true }))
    const p = await open()
    await type(p, 'reason', '项目取消')
    await p.instance.onSubmit()
    expect(wx.showModal).toHaveBeenCalled()
    expect(posts()).toHaveLength(0)
    expect(p.data.step).toBe('form')
  })

  test('a lost answer is retried with the same Idempotency-Key; a changed form gets a new one', async () => {
    let mode = 'fail'
    const p = await open({
      'POST /donations/4/refunds': () => (mode === 'fail' ? { fail: true } : ok(refund('succeeded'), 201))
    })
    await type(p, 'reason', '项目取消')
    await p.instance.onSubmit()
    expect(text(p, '#form-error')).toContain('网络连接失败')
    expect(text(p, '#form-error')).toContain('不会重复退款')
    const first = posts().map((r) => r.header['Idempotency-Key'])
    expect(first).toHaveLength(2) // the client's own network retry, same key
    expect(first[1]).toBe(first[0])
    await p.instance.onSubmit()
    expect(posts()[2].header['Idempotency-Key']).toBe(first[0])
    await type(p, 'amount', '10')
    await p.instance.onSubmit()
    const changed = posts()[4].header['Idempotency-Key']
    expect(changed).not.toBe(first[0])
    mode = 'ok'
    await submit(p)
    expect(posts()[6].header['Idempotency-Key']).toBe(changed)
    expect(posts()[6].data).toEqual({ amount_fen: 1000, reason: '项目取消' })
    expect(p.data.step).toBe('done')
    expect(text(p, '#result-status')).toBe('已退款')
    // already settled in the answer: no polling
    expect(shim.requests.filter((r) => r.method === 'GET')).toHaveLength(1)
  })

  test('the API\'s Chinese error is shown as it is; field errors go beside their fields', async () => {
    const p = await open({
      'POST /donations/4/refunds': shim.apiError(409, 'refund_exceeds_refundable', '退款金额超过可退金额（已有部分善款被使用）')
    })
    await type(p, 'reason', '项目取消')
    await p.instance.onSubmit()
    expect(text(p, '#form-error')).toBe('退款金额超过可退金额（已有部分善款被使用）')
    expect(p.data.step).toBe('form')
    shim.routes({
      'GET /donations/4/refunds': ok({ items: [] }),
      'POST /donations/4/refunds': shim.apiError(422, 'validation_error', '提交的内容有误', { reason: ['原因太短'] })
    })
    await p.instance.onSubmit()
    expect(text(p, '#reason-error')).toBe('原因太短')
  })

  test('a failed refund shows WeChat\'s reason; an unsettled one says to check later', async () => {
    const p = await open({
      'POST /donations/4/refunds': ok(refund('requested'), 201),
      'GET /donations/4/refunds': ok({ items: [refund('failed', { failure: '原支付账户已注销' })] })
    })
    await type(p, 'reason', '项目取消')
    await submit(p)
    expect(text(p, '#result-status')).toBe('退款失败')
    expect(text(p, '#result-failed')).toBe('原支付账户已注销')

    const q = await open({
      'POST /donations/4/refunds': ok(refund('requested'), 201),
      'GET /donations/4/refunds': ok({ items: [refund('processing')] })
    })
    await type(q, 'reason', '项目取消')
    await submit(q)
    expect(text(q, '#result-status')).toBe('退款中')
    expect(text(q, '#result-later')).toContain('稍后')
    expect(shim.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/donations/4/refunds').length).toBeGreaterThanOrEqual(8)
  })

  test('earlier refunds are listed; a missing donation id is an error state', async () => {
    const p = await open({ 'GET /donations/4/refunds': ok({ items: [refund('succeeded', { id: 20, amount_fen: 1000, reason: '重复捐款' })] }) })
    expect(text(p, '.history-item')).toContain('¥10.00 · 已退款')
    expect(text(p, '.history-item')).toContain('重复捐款')
    const q = await open({ 'GET /donations/4/refunds': shim.apiError(500, 'internal_error', '服务暂时不可用') })
    expect(text(q, '.history-error')).toContain('服务暂时不可用')
    expect(q.querySelector('#submit')).toBeDefined()
    const r = await open({}, {})
    expect(r.data.state).toBe('error')
    expect(text(r.querySelector('#sv'), '.sv-message')).toContain('缺少捐赠信息')
  })
})
