// Chinese labels for contract enums, plus small display helpers.
const CATEGORIES = [
  { value: '', label: '全部' },
  { value: 'elderly', label: '助老' },
  { value: 'children', label: '儿童' },
  { value: 'hardship', label: '困难帮扶' },
  { value: 'medical', label: '医疗救助' },
  { value: 'education', label: '助学' },
  { value: 'disability', label: '助残' },
  { value: 'military', label: '拥军优属' },
  { value: 'environment', label: '环境改善' },
  { value: 'convenience', label: '便民服务' }
]

const NEED_STATUS = {
  draft: '草稿', submitted: '待审核', fundraising: '筹款中', funded: '已筹满',
  in_progress: '执行中', completed: '已完成', closed: '已结束'
}

const DONATION_STATUS = {
  pending: '待支付', paid: '已支付', closed: '已关闭', refunding: '退款中',
  refunded: '已退款', partially_refunded: '部分退款'
}

const DISCLOSURE_STATE = {
  not_required: '暂无公开要求', ok: '按期公开', due_soon: '即将到期公开',
  overdue: '信息公开逾期', final_published: '已发布结项公开'
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
  CATEGORIES, NEED_STATUS, DONATION_STATUS, DISCLOSURE_STATE, METRICS,
  categoryLabel, shortTime, errorMessage
}
