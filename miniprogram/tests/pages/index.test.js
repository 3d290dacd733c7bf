const shim = require('../shim/wx')
const { mount, fire, flush } = require('../shim/load')

const need = (id, extra) => Object.assign({ id, title: '项目' + id, category: 'elderly', status: 'fundraising', goal_fen: 10000, raised_fen: 5000, percent: 50, region: { id: 4, name: '幸福社区' } }, extra)

function serve(pages) {
  shim.routes({
    'GET /needs': (data, query) => pages(query)
  })
}

describe('pages/index', () => {
  test('renders needs of the chosen region and loads the next page on reaching the bottom', async () => {
    shim.setStorage('region', { id: 4, name: '幸福社区' })
    serve((q) => ({ statusCode: 200, data: q.cursor === 'c2' ? { items: [need(3)], next_cursor: null } : { items: [need(1), need(2)], next_cursor: 'c2' } }))
    const page = mount('pages/index/index')
    await page.instance.onLoad({})
    expect(shim.requests[0].query).toMatchObject({ region_id: '4', limit: '10' })
    expect(page.querySelectorAll('.need-item')).toHaveLength(2)
    expect(page.querySelector('#region').dom.textContent).toContain('幸福社区')
    expect(page.dom.textContent).toContain('上拉加载更多')
    await page.instance.onReachBottom()
    expect(shim.requests[1].query.cursor).toBe('c2')
    expect(page.querySelectorAll('.need-item')).toHaveLength(3)
    expect(page.dom.textContent).toContain('没有更多了')
    await page.instance.onReachBottom()
    expect(shim.requests).toHaveLength(2)
  })

  test('category tap filters; pull-down refresh reloads and stops the spinner', async () => {
    serve(() => ({ statusCode: 200, data: { items: [need(1)], next_cursor: null } }))
    const page = mount('pages/index/index')
    await page.instance.onLoad({})
    await fire(page, '#cat-children')
    expect(shim.requests[1].query.category).toBe('children')
    expect(page.data.category).toBe('children')
    await page.instance.onPullDownRefresh()
    expect(shim.requests[2].query.category).toBe('children')
    expect(wx.stopPullDownRefresh).toHaveBeenCalled()
  })

  test('an empty list shows the empty state', async () => {
    serve(() => ({ statusCode: 200, data: { items: [], next_cursor: null } }))
    const page = mount('pages/index/index')
    await page.instance.onLoad({})
    expect(page.data.state).toBe('empty')
    expect(page.dom.textContent).toContain('这里还没有公开的项目')
  })

  test('a network failure shows the message with a retry that reloads', async () => {
    let fail = true
    serve(() => (fail ? { fail: true } : { statusCode: 200, data: { items: [need(1)], next_cursor: null } }))
    const page = mount('pages/index/index')
    await page.instance.onLoad({})
    expect(page.data.state).toBe('error')
    expect(page.dom.textContent).toContain('网络连接失败，请检查网络后重试')
    fail = false
    const sv = page.querySelector('#sv')
    await fire(sv, '#retry')
    await flush()
    expect(page.data.state).toBe('ready')
    expect(page.querySelectorAll('.need-item')).toHaveLength(1)
  })

  test('links go to the region picker and statistics; a new region reloads on show', async () => {
    serve(() => ({ statusCode: 200, data: { items: [], next_cursor: null } }))
    const page = mount('pages/index/index')
    await page.instance.onLoad({})
    await fire(page, '#region')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/regions/regions' })
    await fire(page, '#stats')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/stats/stats' })
    shim.setStorage('region', { id: 9, name: '新社区' })
    await page.instance.onShow()
    expect(shim.requests[shim.requests.length - 1].query.region_id).toBe('9')
    expect(page.instance.onShareAppMessage().path).toBe('/pages/index/index')
  })
})
