// Typeset the math on the page with the KaTeX shipped in assets/katex (no CDN: the
// site works offline). pymdownx.arithmatex writes $...$ as \(...\) and $$...$$ as
// \[...\]; headings carry them into the table of contents too. `document$` is
// Material's page-load signal, so math is typeset after instant navigation as well.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  });
});
