module.exports = {
  testEnvironment: 'jsdom',
  snapshotSerializers: ['miniprogram-simulate/jest-snapshot-plugin'],
  roots: ['<rootDir>/tests'],
  testPathIgnorePatterns: ['/node_modules/', '/contract/', '/tests/shim/'],
  setupFilesAfterEnv: ['<rootDir>/tests/shim/setup.js']
}
