const shim = require('../shim/wx')
const { mount, text, fire, flush } = require('../shim/load')

const ok = (data, statusCode = 200) => ({ statusCode, data })

async function type(p, selector, value) {
  const node = p.querySelector(selector)
  if (!node) throw new Error('no node ' + selector)
  node.dispatchEvent('input', { detail: { value } })
  await flush()
}

const tree = [{
  id: 1, name: '示范市', level: 'city', parent_id: null, children: [
    { id: 2, name: '东区', level: 'district', parent_id: 1, children: [
      { id: 40, name: '幸福街道', level: 'street', parent_id: 2, children: [
        { id: 41, name: '幸福社区', level: 'community', parent_id: 40, children: [] },
        { id: 42, name: '和谐社区', level: 'community', parent_id: 40, children: [] }
      ] }
    ] },
    { id: 3, name: '西区', level: 'district', parent_id: 1, children: [] }
  ]
}]

const needs = [
  { id: 10, title: '草稿项目', status: 'draft' },
  { id: 11, title: '助老餐桌', status: 'fundraising' },
  { id: 12, title: '儿童书屋', status: 'funded' },
  { id: 13, title: '旧的项目', status: 'closed' },
  { id: 14, title: '独居老人助浴', status: 'in_progress' }
]

const space = (extra) => Object.assign({
  code: 's-a', name: '幸福社区慈善空间', address: '幸福路 1 号', opening_hours: '9:00–17:00',
  description: '居民议事与捐赠点', photo_url: 'https://files.test/a.jpg',
  region: { id: 41, name: '幸福社区' }, fund: { id: 3, name: '幸福社区基金' },
  needs: [{ id: 12, title: '儿童书屋', status: 'funded' }, { id: 11, title: '助老餐桌', status: 'fundraising' }],
  needs_chosen: true, photo_upload_id: 77,
  figures: { donation_count: 0, raised_fen: 0, donor_count: 0 }, district_rank: null
}, extra)

function serve(extra = {}) {
  shim.routes(Object.assign({
    'GET /funds/3': ok({ id: 3, name: '幸福社区基金', region: { id: 40, name: '幸福街道' } }),
    'GET /regions': ok(tree),
    'GET /funds/3/needs': ok({ items: needs, next_cursor: null }),
    'GET /spaces/s-a': ok(space())
  }, extra))
}

async function fillValid(p) {
  await type(p, '#name', '和谐社区慈善空间')
  await type(p, '#address', '和谐路 8 号党群服务中心一楼')
  await type(p, '#hours', '周一至周五 9:00–17:00')
  await type(p, '#description', '可以在这里了解社区项目、扫码捐赠。')
  p.querySelector('#region').dispatchEvent('change', { detail: { value: 2 } })
  await flush()
}

describe('pages/space-edit', () => {
  test('creates a space with a photo and the needs in the chosen order', async () => {
    const bodies = []
    serve({ 'POST /spaces': (data) => { bodies.push(data); return ok(space({ code: 'hexie-1' }), 201) } })
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: 55, url: 'https://files.test/55.jpg' }) }))
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3' })
    expect(p.data.state).toBe('ready')
    // the fund's region and below only, indented
    expect(p.data.regions.map((r) => r.name)).toEqual(['幸福街道', '幸福社区', '和谐社区'])
    expect(p.data.regions[1].label).toBe('\u3000幸福社区')
    // public needs only (no draft, no closed)
    expect(p.querySelectorAll('.available-item')).toHaveLength(3)
    expect(text(p, '.available-item')).toContain('助老餐桌')

    await fillValid(p)
    await type(p, '#code', 'hexie-1')
    await fire(p, '#photo-pick')
    expect(wx.chooseMedia).toHaveBeenCalledWith(expect.objectContaining({ count: 1, mediaType: ['image'] }))
    expect(shim.uploads[0].filePath).toBe('/tmp/a.jpg')
    expect(p.querySelector('#photo-preview')).toBeDefined()
    expect(p.data.photo.url).toBe('https://files.test/55.jpg')

    // add 助老餐桌, 独居老人助浴, 儿童书屋; move 儿童书屋 to the top; remove 独居老人助浴
    await fire(p, '.available-item') // 助老餐桌
    await fire(p, p.querySelectorAll('.available-item')[1]) // 独居老人助浴
    await fire(p, '.available-item') // 儿童书屋
    expect(p.data.chosen.map((n) => n.id)).toEqual([11, 14, 12])
    await fire(p, p.querySelectorAll('.move-up')[2])
    await fire(p, p.querySelectorAll('.move-up')[1])
    expect(p.data.chosen.map((n) => n.id)).toEqual([12, 11, 14])
    await fire(p, p.querySelectorAll('.need-remove')[2])
    await fire(p, p.querySelectorAll('.move-down')[1]) // the last cannot move down
    expect(text(p, '.chosen-item')).toContain('1. 儿童书屋')
    expect(text(p, '.chosen-count')).toBe('2/20')

    await fire(p, '#save')
    expect(bodies).toEqual([{
      fund_id: 3,
      code: 'hexie-1',
      name: '和谐社区慈善空间',
      region_id: 42,
      address: '和谐路 8 号党群服务中心一楼',
      opening_hours: '周一至周五 9:00–17:00',
      description: '可以在这里了解社区项目、扫码捐赠。',
      photo_upload_id: 55,
      need_ids: [12, 11]
    }])
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '已开设' }))
    expect(wx.navigateBack).toHaveBeenCalled()
  })

  test('without code, photo or needs: optional fields are left out or null', async () => {
    let body = null
    serve({ 'POST /spaces': (data) => { body = data; return ok(space(), 201) } })
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3' })
    await type(p, '#name', '幸福空间')
    await type(p, '#address', '幸福路 1 号')
    p.querySelector('#region').dispatchEvent('change', { detail: { value: 0 } })
    await fire(p, '#save')
    expect(body).toEqual({
      fund_id: 3, name: '幸福空间', region_id: 40, address: '幸福路 1 号',
      opening_hours: null, description: null, need_ids: []
    })
  })

  test('edits a space: loads it, saves with PATCH only what the schema allows', async () => {
    let patched = null
    serve({ 'PATCH /spaces/s-a': (data) => { patched = data; return ok(space(data)) } })
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3', code: 's-a' })
    expect(p.data.state).toBe('ready')
    expect(wx.setNavigationBarTitle).toHaveBeenCalledWith({ title: '编辑慈善空间' })
    expect(p.querySelector('#code')).toBeUndefined()
    expect(text(p, '#code-fixed')).toBe('s-a')
    expect(p.data.form.name).toBe('幸福社区慈善空间')
    expect(p.data.regions[p.data.regionIndex].id).toBe(41)
    expect(p.querySelector('#photo-preview')).toBeDefined()
    expect(p.data.photo.url).toBe('https://files.test/a.jpg')
    expect(p.data.chosen.map((n) => n.id)).toEqual([12, 11])
    expect(p.querySelector('#chosen-empty')).toBeUndefined()
    expect(p.querySelectorAll('.available-item')).toHaveLength(1)

    await type(p, '#hours', '每天 8:00–20:00')
    await fire(p, '#save')
    // the chosen needs round-trip as they were; the kept photo (maybe another user's
    // upload) is not sent; neither are fund_id and code
    expect(patched).toEqual({
      name: '幸福社区慈善空间', region_id: 41, address: '幸福路 1 号',
      opening_hours: '每天 8:00–20:00', description: '居民议事与捐赠点', need_ids: [12, 11]
    })
    expect(shim.requests.filter((r) => r.method === 'PATCH').map((r) => r.path)).toEqual(['/api/v1/spaces/s-a'])
    expect(wx.navigateBack).toHaveBeenCalled()
  })

  test('editing: a removed photo is sent as null, reordered needs as the new order', async () => {
    let patched = null
    serve({ 'PATCH /spaces/s-a': (data) => { patched = data; return ok(space()) } })
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3', code: 's-a' })
    await fire(p, '#photo-remove')
    expect(p.querySelector('#photo-preview')).toBeUndefined()
    await fire(p, p.querySelectorAll('.move-down')[0])
    await fire(p, '#save')
    expect(patched.photo_upload_id).toBeNull()
    expect(patched.need_ids).toEqual([11, 12])
  })

  test('editing a space that shows its fund\'s open needs: the choice starts empty, an unchanged save sends no need_ids', async () => {
    const bodies = []
    serve({
      'GET /spaces/s-a': ok(space({ needs_chosen: false, needs: [{ id: 14, title: '独居老人助浴', status: 'in_progress' }, { id: 11, title: '助老餐桌', status: 'fundraising' }] })),
      'PATCH /spaces/s-a': (data) => { bodies.push(data); return ok(space()) }
    })
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3', code: 's-a' })
    expect(p.data.chosen).toEqual([])
    expect(p.querySelectorAll('.chosen-item')).toHaveLength(0)
    expect(text(p, '#chosen-empty')).toBe('未选择时展示本基金所有募捐中的项目')
    expect(p.querySelector('#chosen-ended')).toBeUndefined()
    expect(p.querySelectorAll('.available-item')).toHaveLength(3)
    expect(p.data.photo.uploadId).toBe(77)
    await fire(p, '#save')
    expect(bodies[0]).toEqual({
      name: '幸福社区慈善空间', region_id: 41, address: '幸福路 1 号',
      opening_hours: '9:00–17:00', description: '居民议事与捐赠点'
    })

    // picking and dropping a need leaves it at the default; picking one sends it
    await fire(p, '.available-item')
    await fire(p, '.need-remove')
    await fire(p, '#save')
    expect(bodies[1].need_ids).toBeUndefined()
    await fire(p, p.querySelectorAll('.available-item')[2]) // 独居老人助浴
    await fire(p, '#save')
    expect(bodies[2].need_ids).toEqual([14])
  })

  test('editing: removing every chosen need sends an empty list (back to the fund\'s open needs); a new photo its id', async () => {
    let patched = null
    serve({ 'PATCH /spaces/s-a': (data) => { patched = data; return ok(space()) } })
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: 56, url: 'https://files.test/56.jpg' }) }))
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3', code: 's-a' })
    await fire(p, '.need-remove')
    await fire(p, '.need-remove')
    expect(text(p, '#chosen-empty')).toBe('未选择时展示本基金所有募捐中的项目')
    await fire(p, '#photo-pick')
    expect(p.data.photo.uploadId).toBe(56)
    await fire(p, '#save')
    expect(patched.need_ids).toEqual([])
    expect(patched.photo_upload_id).toBe(56)
  })

  test('editing a space whose chosen needs all ended: it says so and an unchanged save keeps the choice', async () => {
    let patched = null
    serve({
      'GET /spaces/s-a': ok(space({ needs_chosen: true, needs: [], photo_url: null, photo_upload_id: null })),
      'PATCH /spaces/s-a': (data) => { patched = data; return ok(space()) }
    })
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3', code: 's-a' })
    expect(text(p, '#chosen-ended')).toContain('都已结束')
    expect(p.querySelector('#chosen-empty')).toBeUndefined()
    expect(p.querySelector('#photo-preview')).toBeUndefined()
    await fire(p, '#save')
    expect(patched.need_ids).toBeUndefined()
    expect(patched.photo_upload_id).toBeUndefined()
    // picked and dropped again: as the hint says, the fund's open needs
    await fire(p, '.available-item')
    expect(p.querySelector('#chosen-ended')).toBeUndefined()
    await fire(p, '.need-remove')
    await fire(p, '#save')
    expect(patched.need_ids).toEqual([])
  })

  test('client checks mirror the schema and nothing is sent', async () => {
    serve()
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3' })
    await type(p, '#name', '空')
    await type(p, '#code', 'Bad_Code')
    await type(p, '#hours', 'x'.repeat(101))
    await fire(p, '#save')
    expect(shim.requests.filter((r) => r.method !== 'GET')).toHaveLength(0)
    expect(text(p, '#error-name')).toBe('名称需 2 到 64 个字')
    expect(text(p, '#error-address')).toBe('地址需 2 到 200 个字')
    expect(text(p, '#error-code')).toContain('2–16 位小写字母')
    expect(text(p, '#error-hours')).toBe('开放时间最多 100 个字')
    expect(text(p, '#error-region')).toBe('请选择所在区域')
    expect(text(p, '#form-error')).toBe('请检查标红的内容')
    // typing clears a field's error
    await type(p, '#name', '幸福空间')
    expect(p.querySelector('#error-name')).toBeUndefined()
  })

  test('the server\'s field errors show beside the fields, its message on top', async () => {
    serve({
      'POST /spaces': shim.apiError(422, 'invalid_region', '慈善空间须位于本基金所在区域之内', {
        region_id: ['不在本基金的区域内'], need_ids: ['不可用：12']
      })
    })
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3' })
    await fillValid(p)
    await fire(p, '.available-item')
    await fire(p, '#save')
    expect(text(p, '#form-error')).toBe('慈善空间须位于本基金所在区域之内')
    expect(text(p, '#error-region')).toBe('不在本基金的区域内')
    expect(text(p, '#error-needs')).toBe('不可用：12')
    expect(wx.navigateBack).not.toHaveBeenCalled()
    expect(p.data.busy).toBe(false)
  })

  test('a taken code shows beside the code field', async () => {
    serve({ 'POST /spaces': shim.apiError(409, 'space_code_taken', '编码 hexie-1 已被其他慈善空间使用，请换一个') })
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3' })
    await fillValid(p)
    await type(p, '#code', 'hexie-1')
    await fire(p, '#save')
    expect(text(p, '#error-code')).toBe('编码 hexie-1 已被其他慈善空间使用，请换一个')
    expect(text(p, '#form-error')).toBe('编码 hexie-1 已被其他慈善空间使用，请换一个')
  })

  test('a failed photo upload can be retried; saving waits for it', async () => {
    serve()
    shim.mockUpload(() => ({ statusCode: 413, data: JSON.stringify({ error: 'file_too_large', message: '文件太大，最大 10 MB' }) }))
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3' })
    await fillValid(p)
    await fire(p, '#photo-pick')
    expect(text(p, '.photo-retry')).toContain('文件太大，最大 10 MB')
    await fire(p, '#save')
    expect(text(p, '#error-photo')).toBe('照片上传失败，请重试或移除')
    shim.mockUpload(() => ({ statusCode: 201, data: JSON.stringify({ id: 56, url: 'https://files.test/56.jpg' }) }))
    await fire(p, '.photo-retry')
    expect(p.data.photo.uploadId).toBe(56)
    expect(p.querySelector('#error-photo')).toBeUndefined()
  })

  test('load errors show with a retry; no fund is an error', async () => {
    let fail = true
    serve({ 'GET /regions': () => (fail ? shim.apiError(503, 'unavailable', '服务暂时不可用，请稍后再试') : ok(tree)) })
    const p = mount('pages/space-edit/space-edit')
    await p.instance.onLoad({ fund_id: '3' })
    expect(text(p.querySelector('#sv'), '.sv-message')).toBe('服务暂时不可用，请稍后再试')
    fail = false
    await fire(p.querySelector('#sv'), '#retry')
    expect(p.data.state).toBe('ready')

    const q = mount('pages/space-edit/space-edit')
    await q.instance.onLoad({})
    expect(text(q.querySelector('#sv'), '.sv-message')).toBe('缺少基金信息，请从工作台进入')
  })
})
