// The build's virtual module (scripts/build.mjs): {name: SVG path} for each
// icon named in icons.txt.
declare module 'mdi-icons' {
  const icons: Record<string, string>;
  export default icons;
}
