export { hashTree, treeManifest, diffTrees, hashFileSync, TREE_MANIFEST_HEADER } from './hashtree.js';
export type { TreeEntry, TreeDigest, HashTreeOptions } from './hashtree.js';
