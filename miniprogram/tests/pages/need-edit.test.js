const shim = require('../shim/wx')
const { mount, text, fire, flush } = require('../shim/load')

const ok = (data, statusCode = 200) => ({ statusCode, data })

async function type(p, selector, value) {
  const node = typeof selector === 'string' ? p.querySelector(selector) : selector
  if (!node) throw new Error('no node ' + selector)
  node.dispatchEvent('input', { detail: { value } })
  await flush()
}

async function fillValid(p) {
  await type(p, '#title', '助老餐桌')
  p.querySelector('#category').dispatchEvent('change', { detail: { value: 0 } })
  await type(p, '#story', '为社区 30 位独居老人提供每周五天的午餐，持续半年，餐费由基金补贴。')
  await type(p, '#goal', '5000')
  const items = p.querySelectorAll('.line-item')
  const amounts = p.querySelectorAll('.line-amount')
  await type(p, items[0], '餐费补贴')
  await type(p, amounts[0], '4000')
  await fire(p, '.add-line')
  await type(p, p.querySelectorAll('.line-item')[1], '餐具')
  await type(p, p.querySelectorAll('.line-amount')[1], '1000')
}

const detail = (extra) => Object.assign({
  id: 41,
  fund: { id: 3, name: '幸福社区基金' },
  title: '儿童书屋',
  category: 'children',
  story: '为社区儿童建设一间书屋，购置图书和书架，周末开放供孩子们阅读。',
  status: 'draft',
  goal_fen: 300050,
  deadline: '2026-12-31',
  beneficiary_count: 40,
  budget_lines: [{ item: '图书', amount_fen: 200050 }, { item: '书架', amount_fen: 100000 }],
  images: [{ upload_id: 77, url: 'https://files.test/77.jpg' }]
}, extra)

describe('pages/need-edit', () => {
  test('creates a draft with the budget lines and photos, then submits it', async () => {
    const bodies = []
    shim.routes({
      'POST /funds/3/needs': (data) => { bodies.push(data); return ok(Object.assign({ id: 41, status: 'draft' }, data), 201) },
      'POST /needs/41/submit': ok({ id: 41, status: 'submitted' })
    })
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: 55, url: 'https://files.test/55.jpg', thumbnail_url: 'https://files.test/55-t.jpg' }) }))
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({ fund_id: '3' })
    expect(p.data.state).toBe('ready')
    expect(shim.requests).toHaveLength(0)
    await fillValid(p)
    expect(text(p, '.lines-total')).toBe('合计 ¥5,000.00 / 目标 ¥5,000.00')
    const photos = p.querySelector('#photos')
    await fire(photos, '.add')
    expect(wx.chooseMedia).toHaveBeenCalledWith(expect.objectContaining({ count: 9, mediaType: ['image'] }))
    expect(shim.uploads).toHaveLength(1)
    expect(shim.uploads[0].filePath).toBe('/tmp/a.jpg')
    expect(p.data.imageIds).toEqual([55])
    await fire(p, '.submit')
    expect(bodies).toEqual([{
      title: '助老餐桌',
      category: 'elderly',
      story: '为社区 30 位独居老人提供每周五天的午餐，持续半年，餐费由基金补贴。',
      goal_fen: 500000,
      deadline: null,
      beneficiary_count: 0,
      budget_lines: [{ item: '餐费补贴', amount_fen: 400000 }, { item: '餐具', amount_fen: 100000 }],
      image_ids: [55]
    }])
    expect(shim.requests.map((r) => r.method + ' ' + r.path)).toEqual([
      'POST /api/v1/funds/3/needs', 'POST /api/v1/needs/41/submit'
    ])
    expect(p.data.status).toBe('submitted')
    expect(text(p, '.notice')).toContain('已提交')
    expect(p.querySelector('.submit')).toBeUndefined()
  })

  test('budget lines that do not add up to the goal are refused before sending', async () => {
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({ fund_id: '3' })
    await fillValid(p)
    await type(p, '#goal', '6000')
    expect(text(p, '.lines-total')).toBe('合计 ¥5,000.00 / 目标 ¥6,000.00')
    await fire(p, '.save')
    expect(shim.requests).toHaveLength(0)
    expect(text(p, '#error-budget')).toBe('预算明细合计 ¥5,000.00，与筹款目标 ¥6,000.00 不一致')
  })

  test('local checks show beside the fields', async () => {
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({ fund_id: '3' })
    await type(p, '#goal', '12.345')
    await fire(p, '.save')
    expect(shim.requests).toHaveLength(0)
    expect(text(p, '#error-title')).toBe('标题需 2 到 30 个字')
    expect(text(p, '#error-category')).toBe('请选择项目类别')
    expect(text(p, '#error-story')).toBe('项目说明至少 20 个字')
    expect(text(p, '#error-goal')).toContain('最多两位小数')
    expect(text(p, '.form-error')).toBe('请检查标红的内容')
  })

  test('field errors from the API are shown beside the fields with its message', async () => {
    shim.routes({
      'POST /funds/3/needs': shim.apiError(422, 'validation_failed', '请求参数有误，请检查后重试', {
        title: ['标题含有不适宜的内容'],
        budget_lines: { 0: { item: ['用途不能为空'] } }
      })
    })
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({ fund_id: '3' })
    await fillValid(p)
    await fire(p, '.save')
    expect(text(p, '.form-error')).toBe('请求参数有误，请检查后重试')
    expect(text(p, '#error-title')).toBe('标题含有不适宜的内容')
    expect(text(p, '#error-budget')).toBe('用途不能为空')
  })

  test('edits an existing draft: loads it, shows its values and saves with PATCH', async () => {
    let patched = null
    shim.routes({
      'GET /funds/3/needs/41': ok(detail()),
      'PATCH /needs/41': (data) => { patched = data; return ok(detail(data)) }
    })
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({ fund_id: '3', need_id: '41' })
    expect(p.data.state).toBe('ready')
    expect(p.data.form.goal).toBe('3000.50')
    expect(p.data.lines).toEqual([{ item: '图书', amount: '2000.50' }, { item: '书架', amount: '1000' }])
    expect(text(p, '.lines-total')).toBe('合计 ¥3,000.50 / 目标 ¥3,000.50')
    expect(p.querySelector('#photos').querySelectorAll('.thumb')).toHaveLength(1)
    await type(p, '#title', '儿童书屋（二期）')
    await fire(p, '.save')
    expect(patched).toMatchObject({
      title: '儿童书屋（二期）', category: 'children', goal_fen: 300050, deadline: '2026-12-31',
      beneficiary_count: 40, image_ids: [77],
      budget_lines: [{ item: '图书', amount_fen: 200050 }, { item: '书架', amount_fen: 100000 }]
    })
    expect(text(p, '.notice')).toBe('草稿已保存')
  })

  test('a submitted need cannot be edited until withdrawn', async () => {
    shim.routes({
      'GET /funds/3/needs/41': ok(detail({ status: 'submitted' })),
      'POST /needs/41/withdraw': ok(detail({ status: 'draft' }))
    })
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({ fund_id: '3', need_id: '41' })
    expect(p.querySelector('.submit')).toBeUndefined()
    expect(text(p, '.status-banner')).toContain('待发布')
    await p.instance.onSave()
    expect(shim.requests.filter((r) => r.method !== 'GET')).toHaveLength(0)
    await fire(p, '.withdraw')
    expect(shim.requests[shim.requests.length - 1].path).toBe('/api/v1/needs/41/withdraw')
    expect(p.data.editable).toBe(true)
    expect(p.querySelector('.submit')).toBeDefined()
  })

  test('a refused submit shows the API message', async () => {
    shim.routes({
      'GET /funds/3/needs/41': ok(detail()),
      'PATCH /needs/41': ok(detail()),
      'POST /needs/41/submit': shim.apiError(409, 'governance_incomplete', '基金尚未配齐管委会成员，暂不能提交')
    })
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({ fund_id: '3', need_id: '41' })
    await fire(p, '.submit')
    expect(text(p, '.form-error')).toBe('基金尚未配齐管委会成员，暂不能提交')
    expect(p.data.status).toBe('draft')
  })

  test('a need with missing fields loads into an empty form', async () => {
    shim.routes({ 'GET /funds/3/needs/41': ok({ id: 41 }) })
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({ fund_id: '3', need_id: '41' })
    expect(p.data.state).toBe('ready')
    expect(p.data.lines).toEqual([{ item: '', amount: '' }])
    expect(text(p, '.lines-total')).toBe('合计 ¥0.00 / 目标 ¥0.00')
  })

  test('load errors show the message with a retry; a lost upload can be retried', async () => {
    let fail = true
    shim.routes({ 'GET /funds/3/needs/41': () => (fail ? { fail: true } : ok(detail())) })
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({ fund_id: '3', need_id: '41' })
    expect(p.data.state).toBe('error')
    expect(text(p.querySelector('#sv'), '.sv-message')).toContain('网络连接失败')
    fail = false
    await fire(p.querySelector('#sv'), '#retry')
    expect(p.data.state).toBe('ready')

    shim.mockUpload(() => ({ statusCode: 413, data: JSON.stringify({ error: 'file_too_large', message: '文件太大，最大 10 MB' }) }))
    const photos = p.querySelector('#photos')
    await fire(photos, '.add')
    expect(text(photos, '.retry')).toContain('上传失败')
    expect(photos.data.items[1].message).toBe('文件太大，最大 10 MB')
    expect(p.data.imageIds).toEqual([77])
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: 56, url: 'https://files.test/56.jpg' }) }))
    await fire(photos, '.retry')
    expect(p.data.imageIds).toEqual([77, 56])
  })

  test('opened without a fund shows an error', async () => {
    const p = mount('pages/need-edit/need-edit')
    await p.instance.onLoad({})
    expect(p.data.state).toBe('error')
    expect(text(p.querySelector('#sv'), '.sv-message')).toBe('缺少基金信息，请从工作台进入')
  })
})
