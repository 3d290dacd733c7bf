const shim = require('../shim/wx')
const { mount, text, fire, flush } = require('../shim/load')

const ok = (data, statusCode = 200) => ({ statusCode, data })

async function type(p, selector, value) {
  p.querySelector(selector).dispatchEvent('input', { detail: { value } })
  await flush()
}

describe('pages/update-new', () => {
  test('posts a disclosure with photos for the need it was opened for', async () => {
    let body = null
    let id = 70
    shim.routes({
      'GET /funds/3/needs/21': ok({ id: 21, title: '独居老人助浴', status: 'in_progress' }),
      'POST /needs/21/updates': (data) => { body = data; return ok({ id: 5, kind: data.kind }, 201) }
    })
    shim.mockChooseMedia(() => ({ tempFiles: [{ tempFilePath: '/tmp/1.jpg' }, { tempFilePath: '/tmp/2.jpg' }] }))
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: ++id, url: 'https://files.test/' + id + '.jpg' }) }))
    const p = mount('pages/update-new/update-new')
    await p.instance.onLoad({ fund_id: '3', need_id: '21', kind: 'disclosure' })
    expect(p.data.state).toBe('ready')
    expect(text(p, '#need-title')).toBe('独居老人助浴')
    expect(p.querySelector('.kind-disclosure.choice-on')).toBeDefined()
    await type(p, '#text', '本季度为 12 位老人上门助浴 48 次，支出 ¥880.00。')
    await fire(p.querySelector('#photos'), '.add')
    await fire(p, '#submit')
    expect(body).toEqual({ kind: 'disclosure', text: '本季度为 12 位老人上门助浴 48 次，支出 ¥880.00。', attachment_ids: [71, 72] })
    expect(text(p, '#posted')).toContain('已发布')
    await fire(p, '.back')
    expect(wx.navigateBack).toHaveBeenCalled()
  })

  test('up to 9 photos: the picker asks only for the room left and hides when full', async () => {
    shim.routes({ 'GET /funds/3/needs/21': ok({ id: 21, title: 'x' }) })
    shim.mockChooseMedia((o) => ({ tempFiles: Array.from({ length: o.count }, (_, i) => ({ tempFilePath: '/tmp/' + i + '.jpg' })) }))
    let id = 0
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: ++id, url: 'u' + id }) }))
    const p = mount('pages/update-new/update-new')
    await p.instance.onLoad({ fund_id: '3', need_id: '21' })
    const photos = p.querySelector('#photos')
    photos.instance.addFiles(['/tmp/a.jpg', '/tmp/b.jpg'])
    await flush()
    await fire(photos, '.add')
    expect(wx.chooseMedia.mock.calls[0][0].count).toBe(7)
    expect(p.data.attachmentIds).toHaveLength(9)
    expect(photos.querySelector('.add')).toBeUndefined()
  })

  test('without a need, it offers the fund\'s public needs to choose from', async () => {
    let path = null
    shim.routes({
      'GET /funds/3/needs': ok({ items: [
        { id: 21, title: '独居老人助浴', status: 'in_progress' },
        { id: 22, title: '草稿项目', status: 'draft' },
        { id: 23, title: '社区环境', status: 'completed' }
      ] }),
      'POST /needs/23/updates': (data) => { path = data; return ok({ id: 1 }, 201) }
    })
    const p = mount('pages/update-new/update-new')
    await p.instance.onLoad({ fund_id: '3' })
    expect(p.data.needs.map((n) => n.id)).toEqual([21, 23])
    await type(p, '#text', '项目已全部完成，结余 ¥0.00，感谢各位邻居。')
    await fire(p, '#submit')
    expect(text(p, '#error-need')).toBe('请选择项目')
    expect(shim.requests.filter((r) => r.method === 'POST')).toHaveLength(0)
    p.querySelector('#need').dispatchEvent('change', { detail: { value: 1 } })
    await fire(p, '.kind-final')
    await fire(p, '#submit')
    expect(path).toMatchObject({ kind: 'final', attachment_ids: [] })
  })

  test('text shorter than 10 characters is refused locally; API errors are shown', async () => {
    shim.routes({
      'GET /funds/3/needs/21': ok({ id: 21, title: 'x' }),
      'POST /needs/21/updates': shim.apiError(409, 'need_not_public', '项目尚未发布，不能发布进展')
    })
    const p = mount('pages/update-new/update-new')
    await p.instance.onLoad({ fund_id: '3', need_id: '21' })
    await type(p, '#text', '太短')
    await fire(p, '#submit')
    expect(text(p, '#error-text')).toBe('内容至少 10 个字')
    expect(shim.requests.filter((r) => r.method === 'POST')).toHaveLength(0)
    await type(p, '#text', '这是一段足够长的进展说明文字。')
    await fire(p, '#submit')
    expect(text(p, '#form-error')).toBe('项目尚未发布，不能发布进展')
    expect(p.data.posted).toBe(false)
  })

  test('empty: a fund with no public need; error: lost network with retry', async () => {
    shim.routes({ 'GET /funds/3/needs': ok({ items: [] }) })
    const p = mount('pages/update-new/update-new')
    await p.instance.onLoad({ fund_id: '3' })
    expect(p.data.state).toBe('empty')
    expect(text(p.querySelector('#sv'), '#empty')).toContain('还没有已发布的项目')

    let fail = true
    shim.routes({ 'GET /funds/3/needs/21': () => (fail ? { fail: true } : ok({})) })
    const q = mount('pages/update-new/update-new')
    await q.instance.onLoad({ fund_id: '3', need_id: '21' })
    expect(text(q.querySelector('#sv'), '.sv-message')).toContain('网络连接失败')
    fail = false
    await fire(q.querySelector('#sv'), '#retry')
    expect(q.data.state).toBe('ready')
    expect(text(q, '#need-title')).toBe('项目 #21')
  })
})
