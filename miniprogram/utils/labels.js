// Chinese labels for contract enums, plus small display helpers.
// Need categories in the glossary's words (DESIGN.md); '' is the home page's "all".
const CATEGORIES = [
  { value: '', label: '全部' },
  { value: 'elderly', label: '敬老' },
  { value: 'children', label: '扶小' },
  { value: 'hardship', label: '助困' },
  { value: 'medical', label: '助医' },
  { value: 'education', label: '助学' },
  { value: 'disability', label: '助残' },
  { value: 'military', label: '双拥' },
  { value: 'environment', label: '环境优化' },
  { value: 'convenience', label: '便民利民' }
]

const NEED_STATUS = {
  draft: '草稿', submitted: '待发布', fundraising: '筹款中', funded: '已筹满',
  in_progress: '执行中', completed: '已完成', closed: '已关闭'
}

const DONATION_STATUS = {
  pending: '待支付', paid: '已支付', closed: '已关闭', refunding: '退款中',
  refunded: '已退款', partially_refunded: '部分退款'
}

const REFUND_STATUS = {
  requested: '已申请', processing: '退款中', succeeded: '已退款', failed: '退款失败'
}

// What is left of a completed or closed need: back to the donors, or into the fund's pool.
const LEFTOVER_ACTION = { refund: '退还捐赠人', to_pool: '转入基金池' }

const DISCLOSURE_STATE = {
  not_required: '暂无需公开', ok: '按期公开', due_soon: '即将到期',
  overdue: '已逾期', final_published: '已发布结项报告'
}

const METRICS = {
  fund_count: '社区基金数', need_count: '项目数', space_count: '慈善空间数',
  raised_fen: '筹款金额', beneficiary_count: '受益人数'
}

function categoryLabel(value) {
  const hit = CATEGORIES.find((c) => c.value === value)
  return hit && value ? hit.label : ''
}

// "2024-05-01T12:30:00+08:00" -> "2024-05-01 12:30"; a date stays as it is.
function shortTime(iso) {
  if (!iso || typeof iso !== 'string') return ''
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}))?/.exec(iso)
  if (!m) return iso
  return m[2] ? m[1] + ' ' + m[2] : m[1]
}

function errorMessage(err) {
  return (err && err.message) || '出错了，请稍后重试'
}

module.exports = {
  CATEGORIES, NEED_STATUS, DONATION_STATUS, REFUND_STATUS, LEFTOVER_ACTION, DISCLOSURE_STATE, METRICS,
  categoryLabel, shortTime, errorMessage
}
