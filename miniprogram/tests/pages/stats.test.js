const shim = require('../shim/wx')
const { mount, fire } = require('../shim/load')

describe('pages/stats', () => {
  test('shows totals and target progress for the stored region', async () => {
    shim.setStorage('region', { id: 4, name: '幸福社区' })
    shim.routes({ 'GET /stats': { statusCode: 200, data: { region: { id: 4, name: '幸福社区' }, raised_fen: 1234500, spent_fen: 100, donation_count: 12, needs_by_status: { fundraising: 2 },
      targets: [{ metric: 'raised_fen', year: 2024, target: 10000000, actual: 1234500, percent: 12 }, { metric: 'need_count', year: 2024, target: 10, actual: 5, percent: 50 }] } } })
    const page = mount('pages/stats/stats')
    await page.instance.onLoad({})
    expect(shim.requests[0].query.region_id).toBe('4')
    expect(page.querySelector('#fig-raised').dom.textContent).toContain('¥12,345.00')
    expect(page.querySelector('#target-raised_fen').dom.textContent).toContain('已完成 ¥12,345.00 / 目标 ¥100,000.00')
    expect(page.querySelector('#target-need_count').dom.textContent).toContain('已完成 5 / 目标 10')
    expect(page.dom.textContent).toContain('筹款中2')
  })

  test('no targets and an error with retry', async () => {
    let fail = true
    shim.routes({ 'GET /stats': () => (fail ? { fail: true } : { statusCode: 200, data: {} }) })
    const page = mount('pages/stats/stats')
    await page.instance.onLoad({})
    expect(page.dom.textContent).toContain('网络连接失败')
    fail = false
    await fire(page.querySelector('#sv'), '#retry')
    expect(page.querySelector('#no-targets')).toBeDefined()
    expect(page.querySelector('#fig-raised').dom.textContent).toContain('¥0.00')
  })
})
