const shim = require('../shim/wx')
const { mount, fire } = require('../shim/load')

const tree = [{ id: 1, name: '某市', level: 'city', children: [{ id: 2, name: '某区', level: 'district', children: [
  { id: 3, name: '某街道', level: 'street', children: [{ id: 4, name: '幸福社区', level: 'community', children: [] }] }] }] }]

describe('pages/regions', () => {
  test('drills city → district → street → community and stores the choice', async () => {
    shim.routes({ 'GET /regions': { statusCode: 200, data: tree } })
    const page = mount('pages/regions/regions')
    await page.instance.onLoad()
    await fire(page, '#region-1')
    await fire(page, '#region-2')
    await fire(page, '#region-3')
    expect(page.dom.textContent).toContain('某市 / 某区 / 某街道')
    await fire(page, '#region-4')
    expect(shim.storage().region).toEqual({ id: 4, name: '幸福社区', level: 'community' })
    expect(wx.switchTab).toHaveBeenCalledWith({ url: '/pages/index/index' })
  })

  test('choose a whole district; breadcrumbs go back', async () => {
    shim.routes({ 'GET /regions': { statusCode: 200, data: tree } })
    const page = mount('pages/regions/regions')
    await page.instance.onLoad()
    await fire(page, '#region-1')
    await fire(page, '#region-2')
    await fire(page, '#crumb-1')
    expect(page.querySelector('#region-2')).toBeDefined()
    await fire(page, '#choose-current')
    expect(shim.storage().region.id).toBe(1)
  })

  test('empty tree and error', async () => {
    shim.routes({ 'GET /regions': { statusCode: 200, data: [] } })
    const page = mount('pages/regions/regions')
    await page.instance.onLoad()
    expect(page.dom.textContent).toContain('暂无可选地区')
    shim.routes({ 'GET /regions': shim.apiError(503, 'unavailable', '服务维护中') })
    await page.instance.load()
    expect(page.dom.textContent).toContain('服务维护中')
  })
})
