const shim = require('../shim/wx')
const { mount, fire } = require('../shim/load')

const space = { code: 'SP1', name: '幸福社区慈善空间', address: '幸福路 1 号', region: { id: 4, name: '幸福社区' }, fund: { id: 3, name: '幸福社区基金' },
  needs: [{ id: 7, title: '老人助餐', status: 'fundraising', goal_fen: 100, raised_fen: 0 }, { id: 8, title: '儿童书屋', status: 'fundraising' }],
  figures: { donation_count: 3, raised_fen: 850010, donor_count: 2 },
  district_rank: { district: { id: 2, name: '临江区' }, rank: 1, of: 4 } }

describe('pages/space', () => {
  test('decodes the scene, loads the space and focuses the scanned need', async () => {
    shim.routes({ 'GET /spaces/SP1': { statusCode: 200, data: space } })
    const page = mount('pages/space/space')
    await page.instance.onLoad({ scene: encodeURIComponent('s=SP1&n=8') })
    expect(shim.requests[0].path).toBe('/api/v1/spaces/SP1')
    expect(page.querySelector('#space-name').dom.textContent).toBe('幸福社区慈善空间')
    expect(page.data.focus.id).toBe(8)
    expect(page.querySelectorAll('.need-item')).toHaveLength(1)
    await fire(page, '#donate-focus')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/donate/donate?need_id=8&space_code=SP1' })
    await fire(page, '#donate-fund')
    expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/donate/donate?fund_id=3&space_code=SP1' })
  })

  test("shows what the space's codes brought in and its place in the district", async () => {
    shim.routes({ 'GET /spaces/SP1': { statusCode: 200, data: space } })
    const page = mount('pages/space/space')
    await page.instance.onLoad({ code: 'SP1' })
    const figures = page.querySelector('#space-figures').dom.textContent
    expect(figures).toContain('¥8,500.10')
    expect(figures).toContain('3')
    expect(page.querySelector('#space-rank').dom.textContent).toContain('在临江区 4 个慈善空间中排第 1 名')
  })

  test('an invalid scene or an unknown space shows an error', async () => {
    shim.routes({ 'GET /spaces/NOPE': shim.apiError(404, 'space_not_found', '慈善空间不存在') })
    const page = mount('pages/space/space')
    await page.instance.onLoad({ scene: 'x%3D1' })
    expect(page.dom.textContent).toContain('二维码无效')
    expect(shim.requests).toHaveLength(0)
    await page.instance.onLoad({ scene: 's%3DNOPE' })
    expect(page.dom.textContent).toContain('慈善空间不存在')
  })

  test('a space without needs says so', async () => {
    shim.routes({ 'GET /spaces/SP1': { statusCode: 200, data: { code: 'SP1', name: '空' } } })
    const page = mount('pages/space/space')
    await page.instance.onLoad({ code: 'SP1' })
    expect(page.querySelector('#no-needs')).toBeDefined()
    expect(page.querySelector('#donate-fund')).toBeUndefined()
    expect(page.querySelector('#space-figures')).toBeUndefined()
  })
})
