// Field errors of a form page (data.errors, keyed by the API's field names).
module.exports = Behavior({
  data: {
    errors: {}
  },

  methods: {
    // Removes one field's error, e.g. when the user edits that field.
    clearError(key) {
      if (!key || !this.data.errors[key]) return
      const errors = Object.assign({}, this.data.errors)
      delete errors[key]
      this.setData({ errors })
    }
  }
})
