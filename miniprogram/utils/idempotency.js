// Idempotency-Key per request body, kept on the page: the same body keeps its key, so a
// retry after a lost answer is the same request (no second refund, order or decision);
// a changed body is a new request with a new key.
const api = require('./api.js')

function keyFor(page, body) {
  const text = JSON.stringify(body)
  if (page.keyBody !== text) {
    page.keyBody = text
    page.key = api.newIdempotencyKey()
  }
  return page.key
}

// After a request has gone through: the next one gets a new key, even with the same body.
function resetKey(page) {
  page.keyBody = null
}

module.exports = { keyFor, resetKey }
