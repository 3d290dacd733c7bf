// Shared helpers of the secretary pages (workbench, need-edit, expense, expense-new,
// update-new, disclosures). Not a component: a plain module kept beside sec-photos.

const shared = require('../../utils/labels.js')

// Need categories in the order the picker shows them (the glossary's words, shared).
const CATEGORIES = shared.CATEGORIES.filter((c) => c.value)
const NEED_STATUS = shared.NEED_STATUS
const DISCLOSURE_STATE = shared.DISCLOSURE_STATE
const shortTime = shared.shortTime

const EXPENSE_STATUS = {
  submitted: '待审批',
  approved: '已批准',
  rejected: '已驳回',
  disbursed: '已拨付',
  cancelled: '已撤销'
}


const ROLE = {
  secretary: '书记',
  committee: '管委会',
  supervisor: '监督员',
  foundation_admin: '基金会管理员',
  platform_admin: '平台管理员'
}

const PAYEE_TYPE = { person: '个人', organization: '机构' }

const UPDATE_KINDS = [
  { value: 'progress', label: '项目进展' },
  { value: 'disclosure', label: '信息公开' },
  { value: 'final', label: '结项报告' }
]

// A need's money can be spent while it raises, once funded, in progress and completed.
const SPENDABLE_NEED_STATUSES = ['fundraising', 'funded', 'in_progress', 'completed']
// Updates go on public needs only.
const PUBLIC_NEED_STATUSES = ['fundraising', 'funded', 'in_progress', 'completed', 'closed']
const ENDED_NEED_STATUSES = ['completed', 'closed']

function categoryLabel(value) {
  const found = CATEGORIES.find((c) => c.value === value)
  return found ? found.label : (value || '')
}

function label(table, value) {
  return (value && table[value]) || value || ''
}

// The first message found in a validation `errors` value: a string, a list of them,
// or a nested object (budget_lines: {"0": {"amount_fen": ["..."]}}).
function firstMessage(value) {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (Array.isArray(value)) {
    for (const v of value) {
      const m = firstMessage(v)
      if (m) return m
    }
    return ''
  }
  if (typeof value === 'object') {
    for (const key of Object.keys(value)) {
      const m = firstMessage(value[key])
      if (m) return m
    }
  }
  return ''
}

// The API's `errors` as {field: "one message"} for showing beside the fields.
function fieldErrors(errors) {
  const out = {}
  if (!errors || typeof errors !== 'object') return out
  Object.keys(errors).forEach((key) => {
    const m = firstMessage(errors[key])
    if (m) out[key] = m
  })
  return out
}

// What to say when a call failed: the API's message, or a generic one.
function errorMessage(err) {
  return (err && err.message) || '操作失败，请稍后重试'
}


// Query-string values arrive as strings; ids must be positive integers.
function idParam(value) {
  const n = parseInt(value, 10)
  return Number.isInteger(n) && n > 0 && String(n) === String(value).trim() ? n : null
}

// Which kind of update settles a need's disclosure duty.
function disclosureKind(needStatus) {
  return ENDED_NEED_STATUSES.indexOf(needStatus) >= 0 ? 'final' : 'disclosure'
}

module.exports = {
  CATEGORIES, NEED_STATUS, EXPENSE_STATUS, DISCLOSURE_STATE, ROLE, PAYEE_TYPE, UPDATE_KINDS,
  SPENDABLE_NEED_STATUSES, PUBLIC_NEED_STATUSES, ENDED_NEED_STATUSES,
  categoryLabel, label, firstMessage, fieldErrors, errorMessage, shortTime, idParam,
  disclosureKind
}
