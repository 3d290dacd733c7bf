const { mount, text, fire } = require('../shim/load')

describe('money-text', () => {
  test('formats fen', async () => {
    const c = mount('components/money-text/money-text', { fen: 1050 })
    expect(text(c, '#money')).toBe('¥10.50')
    c.setData({ fen: -1 })
    expect(text(c, '#money')).toBe('-¥0.01')
  })
})
