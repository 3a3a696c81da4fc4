/** `node:module` for the browser bundle: there are no node_modules folders to resolve against. */

export function createRequire(_from: string | URL) {
  const require = (id: string): never => {
    throw new Error(`require('${id}') is not available in the browser build`);
  };
  require.resolve = (id: string): never => {
    throw new Error(`require.resolve('${id}') is not available in the browser build`);
  };
  return require;
}

export default { createRequire };
