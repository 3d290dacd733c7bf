// Money helpers: amounts are integer fen; never use floating point.

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

// yuan(1234) -> "¥12.34"; yuan(-5) -> "-¥0.05"; missing -> "¥0.00"
function yuan(fen) {
  let n
  if (typeof fen === 'bigint') n = fen
  else if (typeof fen === 'number' && Number.isInteger(fen)) n = BigInt(fen)
  else if (typeof fen === 'string' && /^-?\d+$/.test(fen)) n = BigInt(fen)
  else n = 0n
  const negative = n < 0n
  if (negative) n = -n
  const whole = (n / 100n).toString()
  const cents = (n % 100n).toString().padStart(2, '0')
  return (negative ? '-' : '') + '¥' + groupThousands(whole) + '.' + cents
}

// toFen("12.3") -> 1230; toFen("abc") -> null. Positive amounts with at most 2 decimals.
function toFen(text) {
  if (text === null || text === undefined) return null
  const s = String(text).trim().replace(/^¥/, '')
  const m = /^(\d{1,9})(?:\.(\d{0,2}))?$/.exec(s)
  if (!m) return null
  const cents = (m[2] || '').padEnd(2, '0')
  return parseInt(m[1], 10) * 100 + parseInt(cents, 10)
}

module.exports = { yuan, toFen }
