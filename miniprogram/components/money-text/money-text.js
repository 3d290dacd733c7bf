const { yuan } = require('../../utils/money')

// Renders an amount in fen as "¥12.34".
Component({
  properties: { fen: { type: Number, value: 0 } },
  data: { text: '¥0.00' },
  observers: {
    fen(fen) { this.setData({ text: yuan(fen) }) }
  }
})
