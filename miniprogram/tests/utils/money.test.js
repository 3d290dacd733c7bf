const { yuan, toFen } = require('../../utils/money')

describe('yuan', () => {
  test.each([
    [1234, '¥12.34'], [0, '¥0.00'], [5, '¥0.05'], [100, '¥1.00'], [-5, '-¥0.05'], [-123456, '-¥1,234.56'],
    [123456789012, '¥1,234,567,890.12'], [Number.MAX_SAFE_INTEGER, '¥90,071,992,547,409.91'], ['250', '¥2.50']
  ])('yuan(%p) = %p', (fen, text) => expect(yuan(fen)).toBe(text))

  test('missing or non-integer values show ¥0.00', () => {
    expect(yuan(undefined)).toBe('¥0.00')
    expect(yuan(null)).toBe('¥0.00')
    expect(yuan(1.5)).toBe('¥0.00')
  })
})

describe('toFen', () => {
  test.each([
    ['12.3', 1230], ['12.34', 1234], ['0.1', 10], ['0.29', 29], ['1.13', 113], ['10', 1000], [' 50 ', 5000], ['¥8', 800], ['7.', 700]
  ])('toFen(%p) = %p', (text, fen) => expect(toFen(text)).toBe(fen))

  test.each([['abc'], [''], ['1.234'], ['-1'], ['1e3'], [null], [undefined], ['1,000'], ['.5']])('toFen(%p) is null', (text) => {
    expect(toFen(text)).toBeNull()
  })
})
