const { mount, text, fire } = require('../shim/load')

describe('need-card', () => {
  const need = {
    id: 42, title: '老人助餐', category: 'elderly', category_label: '助老', status: 'fundraising',
    region: { id: 4, name: '幸福社区' }, goal_fen: 100000, raised_fen: 2500, percent: 2, disclosure_overdue: true
  }

  test('renders title, category, status, progress and overdue flag', async () => {
    const c = mount('components/need-card/need-card', { need })
    expect(text(c, '#title')).toBe('老人助餐')
    expect(text(c, '#category')).toBe('助老')
    expect(text(c, '#status')).toBe('筹款中')
    expect(text(c, '#overdue')).toBe('公开逾期')
    expect(text(c.querySelector('#progress'), '#amounts')).toBe('已筹 ¥25.00 / 目标 ¥1,000.00')
  })

  test('tap navigates to the need page (with the space code when given)', async () => {
    const c = mount('components/need-card/need-card', { need, spaceCode: 'SP1' })
    await fire(c, '#card', 'tap')
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/need/need?id=42&space_code=SP1' })
  })

  test('a need with missing fields still renders', async () => {
    const c = mount('components/need-card/need-card', { need: { id: 1 } })
    expect(text(c, '#title')).toBe('未命名项目')
    expect(text(c.querySelector('#progress'), '#amounts')).toBe('已筹 ¥0.00 / 目标 ¥0.00')
    expect(c.querySelector('#category')).toBeUndefined()
  })
})
