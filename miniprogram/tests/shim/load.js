// Loads a component or a Component()-page with miniprogram-simulate and attaches it.
//   const page = mount('pages/index/index', props)
const path = require('path')
const simulate = require('miniprogram-simulate')

const root = path.join(__dirname, '..', '..')

const ids = {}

// simulate.load may run once per path per test file; later mounts reuse the id.
function mount(rel, props) {
  const id = ids[rel] || (ids[rel] = simulate.load(path.join(root, rel), { rootPath: root }))
  const comp = simulate.render(id, props)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

// Text of the first node matching selector (also inside child components with a path list).
function text(comp, selector) {
  const node = comp.querySelector(selector)
  return node ? node.dom.textContent.replace(/\s+/g, ' ').trim() : null
}

// Dispatches an event (tap by default) and lets it and the promises it starts settle.
async function fire(comp, selector, eventName = 'tap', options) {
  const node = typeof selector === 'string' ? comp.querySelector(selector) : selector
  if (!node) throw new Error('no node ' + selector)
  node.dispatchEvent(eventName, options)
  await flush()
}

async function flush(rounds = 40) {
  for (let i = 0; i < rounds; i++) await Promise.resolve()
}

module.exports = { mount, text, fire, flush, simulate, root }
