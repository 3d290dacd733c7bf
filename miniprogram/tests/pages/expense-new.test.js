const shim = require('../shim/wx')
const { mount, text, fire, flush } = require('../shim/load')

const ok = (data, statusCode = 200) => ({ statusCode, data })

async function type(p, selector, value) {
  p.querySelector(selector).dispatchEvent('input', { detail: { value } })
  await flush()
}

const needs = [
  { id: 21, title: '独居老人助浴', status: 'in_progress' },
  { id: 22, title: '儿童书屋', status: 'draft' },
  { id: 23, title: '社区环境', status: 'completed' },
  { id: 24, title: '旧项目', status: 'closed' }
]

function serve(extra = {}) {
  shim.routes(Object.assign({
    'GET /funds/3': ok({ id: 3, name: '幸福社区基金', balance_fen: 1234500 }),
    'GET /funds/3/needs': ok({ items: needs, next_cursor: null })
  }, extra))
}

async function fillValid(p) {
  p.querySelector('#account').dispatchEvent('change', { detail: { value: 1 } })
  await type(p, '#amount', '880.5')
  await type(p, '#payee-name', '康乐医疗器械店')
  await type(p, '#purpose', '购买助浴椅 20 把')
  await fire(p.querySelector('#photos'), '.add')
}

describe('pages/expense-new', () => {
  test('renders the fund, its balance and the spendable accounts', async () => {
    serve()
    const p = mount('pages/expense-new/expense-new')
    await p.instance.onLoad({ fund_id: '3' })
    expect(p.data.state).toBe('ready')
    expect(text(p, '.fund-line .card-title')).toBe('幸福社区基金')
    expect(text(p, '#balance')).toBe('¥12,345.00')
    expect(p.data.accounts.map((a) => a.needId)).toEqual([null, 21, 23])
    expect(text(p, '#account')).toBe('基金池（不指定项目）')
    await type(p, '#amount', '1280.5')
    expect(text(p, '.amount-shown')).toBe('即 ¥1,280.50')
  })

  test('submits with an Idempotency-Key and opens the new expense', async () => {
    const sent = []
    serve({
      'POST /funds/3/expenses': (data, q, header) => {
        sent.push({ data, key: header['Idempotency-Key'] })
        return ok({ id: 99, status: 'submitted' }, 201)
      }
    })
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: 61, url: 'https://files.test/61.jpg' }) }))
    const p = mount('pages/expense-new/expense-new')
    await p.instance.onLoad({ fund_id: '3' })
    await fillValid(p)
    await fire(p, '.payee-person')
    await fire(p, '#submit')
    expect(sent).toHaveLength(1)
    expect(sent[0].data).toEqual({
      need_id: 21, amount_fen: 88050, payee_name: '康乐医疗器械店', payee_type: 'person',
      purpose: '购买助浴椅 20 把', attachment_ids: [61]
    })
    expect(sent[0].key).toMatch(/^[A-Za-z0-9._:-]{8,128}$/)
    expect(wx.redirectTo).toHaveBeenCalledWith({ url: '/pages/expense/expense?id=99' })
  })

  test('a retry after a failure reuses the same Idempotency-Key; the pool sends no need_id', async () => {
    const sent = []
    let fail = true
    serve({
      'POST /funds/3/expenses': (data, q, header) => {
        sent.push({ data, key: header['Idempotency-Key'] })
        return fail ? { fail: true } : ok({ id: 100 }, 201)
      }
    })
    const p = mount('pages/expense-new/expense-new')
    await p.instance.onLoad({ fund_id: '3' })
    await fillValid(p)
    p.querySelector('#account').dispatchEvent('change', { detail: { value: 0 } })
    await fire(p, '#submit')
    expect(text(p, '#form-error')).toContain('网络连接失败')
    fail = false
    await fire(p, '#submit')
    expect(sent.length).toBeGreaterThanOrEqual(3) // the client retries a lost network once itself
    expect(new Set(sent.map((s) => s.key)).size).toBe(1)
    expect(sent[0].data.need_id).toBeUndefined()
    expect(wx.redirectTo).toHaveBeenCalledWith({ url: '/pages/expense/expense?id=100' })
  })

  test('another form gets another key', async () => {
    const keys = []
    serve({ 'POST /funds/3/expenses': (data, q, header) => { keys.push(header['Idempotency-Key']); return ok({ id: 1 }, 201) } })
    for (let i = 0; i < 2; i++) {
      const p = mount('pages/expense-new/expense-new')
      await p.instance.onLoad({ fund_id: '3' })
      await fillValid(p)
      await fire(p, '#submit')
    }
    expect(keys).toHaveLength(2)
    expect(keys[0]).not.toBe(keys[1])
  })

  test('an overdue disclosure refusal shows its message and a link to post the update', async () => {
    serve({
      'POST /funds/3/expenses': shim.apiError(409, 'disclosure_overdue', '该项目的项目进展公开已逾期（应于2026年01月10日前发布），请先发布后再提交支出')
    })
    const p = mount('pages/expense-new/expense-new')
    await p.instance.onLoad({ fund_id: '3', need_id: '21' })
    expect(p.data.accountIndex).toBe(1)
    await type(p, '#amount', '100')
    await type(p, '#payee-name', '康乐医疗器械店')
    await type(p, '#purpose', '购买助浴椅 2 把')
    await fire(p.querySelector('#photos'), '.add')
    await fire(p, '#submit')
    expect(text(p, '.overdue-message')).toBe('该项目的项目进展公开已逾期（应于2026年01月10日前发布），请先发布后再提交支出')
    expect(p.querySelector('#form-error')).toBeUndefined()
    await fire(p, '.post-update')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/update-new/update-new?fund_id=3&need_id=21&kind=disclosure' })
  })

  test('local checks: amount, payee, purpose and at least one piece of evidence', async () => {
    serve()
    const p = mount('pages/expense-new/expense-new')
    await p.instance.onLoad({ fund_id: '3' })
    await type(p, '#amount', '0')
    await type(p, '#payee-name', '王')
    await fire(p, '#submit')
    expect(shim.requests.filter((r) => r.method === 'POST')).toHaveLength(0)
    expect(text(p, '#error-amount')).toContain('请输入金额')
    expect(text(p, '#error-payee-name')).toBe('收款方名称需 2 到 60 个字')
    expect(text(p, '#error-purpose')).toBe('用途说明需 4 到 200 个字')
    expect(text(p.querySelector('#photos'), '.photos-error')).toBe('请至少上传一张发票、收据或其他凭证')
  })

  test('API field errors and messages are shown', async () => {
    serve({
      'POST /funds/3/expenses': shim.apiError(422, 'insufficient_balance', '可用余额不足', { amount_fen: ['超过可用余额 ¥100.00'] })
    })
    const p = mount('pages/expense-new/expense-new')
    await p.instance.onLoad({ fund_id: '3' })
    await fillValid(p)
    await fire(p, '#submit')
    expect(text(p, '#form-error')).toBe('可用余额不足')
    expect(text(p, '#error-amount')).toBe('超过可用余额 ¥100.00')
  })

  test('empty needs list and missing fields: only the pool; load failure shows retry', async () => {
    shim.routes({ 'GET /funds/3': ok({}), 'GET /funds/3/needs': ok({}) })
    const p = mount('pages/expense-new/expense-new')
    await p.instance.onLoad({ fund_id: '3' })
    expect(p.data.state).toBe('ready')
    expect(p.data.accounts).toHaveLength(1)
    expect(p.querySelector('#balance')).toBeUndefined()

    let fail = true
    shim.routes({ 'GET /funds/3': () => (fail ? shim.apiError(503, 'service_unavailable', '服务暂时不可用，请稍后再试') : ok({ id: 3, name: 'x' })), 'GET /funds/3/needs': ok({ items: [] }) })
    const q = mount('pages/expense-new/expense-new')
    await q.instance.onLoad({ fund_id: '3' })
    expect(text(q.querySelector('#sv'), '.sv-message')).toBe('服务暂时不可用，请稍后再试')
    fail = false
    await fire(q.querySelector('#sv'), '#retry')
    expect(q.data.state).toBe('ready')
  })
})
