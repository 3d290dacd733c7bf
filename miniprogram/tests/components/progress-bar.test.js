const { mount, text, fire } = require('../shim/load')

describe('progress-bar', () => {
  test('shows amounts through yuan() and the bar width', async () => {
    const c = mount('components/progress-bar/progress-bar', { raisedFen: 123456, goalFen: 500000, percent: 24 })
    expect(text(c, '#amounts')).toBe('已筹 ¥1,234.56 / 目标 ¥5,000.00')
    expect(text(c, '#percent')).toBe('24%')
    expect(c.querySelector('#fill').dom.getAttribute('style')).toContain('width: 24%')
    expect(c.querySelector('#count')).toBeUndefined()
  })

  test('caps the bar at 100% but shows the real percent; computes a missing percent', async () => {
    const c = mount('components/progress-bar/progress-bar', { raisedFen: 30000, goalFen: 20000, percent: 150, donationCount: 3 })
    expect(c.querySelector('#fill').dom.getAttribute('style')).toContain('width: 100%')
    expect(text(c, '#percent')).toBe('150%')
    expect(text(c, '#count')).toBe('3 人次捐赠')
    c.setData({ raisedFen: 500, goalFen: 2000, percent: 0 })
    expect(text(c, '#percent')).toBe('25%')
  })
})
