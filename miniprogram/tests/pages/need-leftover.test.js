const shim = require('../shim/wx')
const { mount, text, fire, flush } = require('../shim/load')

const ok = (data, statusCode = 200) => ({ statusCode, data })
const leftover = (extra) => Object.assign({
  need_id: 13, status: 'completed', left_fen: 123456, refundable_count: 7, open_refunds: 0, decision: null
}, extra)
const posts = () => shim.requests.filter((r) => r.method === 'POST')

async function open(table = {}, query = { need_id: '13' }) {
  shim.routes(Object.assign({
    'GET /needs/13': ok({ id: 13, title: '独居老人助浴', status: 'completed' }),
    'GET /needs/13/leftover': ok(leftover())
  }, table))
  const p = mount('pages/need-leftover/need-leftover')
  await p.instance.onLoad(query)
  return p
}

async function decide(p, action, text) {
  if (action) await fire(p, '#choice-' + action)
  p.querySelector('#decision').dispatchEvent('input', { detail: { value: text } })
  await flush()
  await p.instance.onSubmit()
}

describe('pages/need-leftover', () => {
  test('shows what is left; transfer to the pool after the confirm dialog, with the committee decision', async () => {
    const decided = leftover({ left_fen: 0, decision: { action: 'to_pool', amount_fen: 123456, decision: '管委会 5 月 10 日决议：转入基金池', created_at: '2026-05-10T15:00:00+08:00' } })
    const p = await open({ 'POST /needs/13/leftover': ok(decided, 201) })
    expect(text(p, '#need-title')).toBe('独居老人助浴')
    expect(text(p, '.need-status')).toBe('已完成')
    expect(text(p, '#left')).toBe('¥1,234.56')
    expect(text(p, '#counts')).toBe('可退款的捐赠 7 笔')
    expect(text(p, '#choice-refund')).toContain('退还捐赠人')
    expect(text(p, '#choice-to_pool')).toContain('转入基金池')
    await decide(p, 'to_pool', '  管委会 5 月 10 日决议：转入基金池  ')
    expect(wx.showModal).toHaveBeenCalledWith(expect.objectContaining({ title: '确认转入基金池' }))
    expect(wx.showModal.mock.calls[0][0].content).toContain('¥1,234.56')
    expect(posts()).toHaveLength(1)
    expect(posts()[0].path).toBe('/api/v1/needs/13/leftover')
    expect(posts()[0].data).toEqual({ action: 'to_pool', decision: '管委会 5 月 10 日决议：转入基金池' })
    expect(text(p, '#decided')).toContain('已决定：转入基金池')
    expect(text(p, '#decided-amount')).toBe('¥1,234.56')
    expect(text(p, '#decided')).toContain('2026-05-10 15:00')
    expect(p.querySelector('#submit')).toBeUndefined()
  })

  test('refund to the donors; a choice and the decision text are required', async () => {
    const p = await open({ 'POST /needs/13/leftover': ok(leftover({ decision: { action: 'refund', amount_fen: 123456, decision: '退还', created_at: '2026-05-10T15:00:00+08:00' } }), 201) })
    await decide(p, null, '')
    expect(text(p, '#action-error')).toBe('请选择结余的处理方式')
    expect(text(p, '#decision-error')).toBe('请填写管委会的决议内容')
    await decide(p, 'refund', '   ')
    expect(p.querySelector('#action-error')).toBeUndefined()
    expect(text(p, '#decision-error')).toBe('请填写管委会的决议内容')
    expect(wx.showModal).not.toHaveBeenCalled()
    expect(posts()).toHaveLength(0)
    await decide(p, 'refund', '管委会决议：按比例退还捐赠人')
    expect(wx.showModal.mock.calls[0][0].content).toContain('原路退还给捐赠人')
    expect(posts()[0].data).toEqual({ action: 'refund', decision: '管委会决议：按比例退还捐赠人' })
    expect(posts()[0].header['Idempotency-Key']).toBeTruthy()
    expect(text(p, '#decided')).toContain('已决定：退还捐赠人')
  })

  test('a cancelled dialog sends nothing; the API\'s refusal is shown as it is and can be retried with the same key', async () => {
    shim.mockModal(() => ({ confirm: false, cancel: true }))
    const p = await open({ 'POST /needs/13/leftover': shim.apiError(409, 'open_refunds', '还有退款正在处理，请稍后再处理结余') })
    await decide(p, 'to_pool', '管委会决议')
    expect(posts()).toHaveLength(0)
    shim.mockModal(() => ({ confirm: true, cancel: false }))
    await p.instance.onSubmit()
    expect(text(p, '#form-error')).toBe('还有退款正在处理，请稍后再处理结余')
    await p.instance.onSubmit()
    expect(posts()).toHaveLength(2)
    expect(posts()[1].header['Idempotency-Key']).toBe(posts()[0].header['Idempotency-Key'])
  })

  test('open refunds warn; a need still running or with nothing left has no form', async () => {
    const p = await open({ 'GET /needs/13/leftover': ok(leftover({ open_refunds: 2 })) })
    expect(text(p, '#open-refunds')).toContain('还有 2 笔退款正在处理')
    expect(text(p, '#counts')).toContain('处理中的退款 2 笔')
    const q = await open({ 'GET /needs/13/leftover': ok(leftover({ status: 'in_progress' })) })
    expect(text(q, '#not-ended')).toContain('项目完成或关闭后')
    expect(q.querySelector('#submit')).toBeUndefined()
    const r = await open({ 'GET /needs/13/leftover': ok(leftover({ status: 'closed', left_fen: 0 })) })
    expect(text(r, '#nothing-left')).toContain('没有结余')
    expect(r.querySelector('#submit')).toBeUndefined()
    await fire(r, '#donations')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/need-donations/need-donations?need_id=13' })
  })

  test('error with retry, and a missing need id', async () => {
    const p = await open({ 'GET /needs/13/leftover': shim.apiError(403, 'forbidden', '只有基金会管理员可以处理结余') })
    expect(p.data.state).toBe('error')
    expect(text(p.querySelector('#sv'), '.sv-message')).toBe('只有基金会管理员可以处理结余')
    shim.routes({ 'GET /needs/13': ok({ id: 13, title: '独居老人助浴' }), 'GET /needs/13/leftover': ok(leftover()) })
    await fire(p.querySelector('#sv'), '#retry')
    expect(p.data.state).toBe('ready')
    expect(text(p, '#left')).toBe('¥1,234.56')
    const q = await open({}, {})
    expect(text(q.querySelector('#sv'), '.sv-message')).toContain('缺少项目信息')
  })
})
