/**
 * The YAML editor, CodeMirror 6 (loaded when an editor is first shown: a module of its own).
 * It lives in a shadow root: CodeMirror styles itself with rules it writes at run time, which the
 * page's Content-Security-Policy refuses as `<style>` elements in the document (it allows no
 * inline style), while in a shadow root they are a constructed stylesheet it adopts, which the
 * policy does not govern. Colours are the page's custom properties, which reach into the shadow
 * root, so the editor follows the theme. Tab is left to move focus (no indent on Tab: a keyboard
 * user must be able to leave the editor); its content is a labelled multi-line textbox, as tall
 * as its text with its lines wrapped.
 */
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { yaml } from '@codemirror/lang-yaml';
import { bracketMatching, HighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { EditorSelection, EditorState } from '@codemirror/state';
import { type Command, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view';
import { tags } from '@lezer/highlight';

const highlight = HighlightStyle.define([
  { tag: tags.definition(tags.propertyName), color: 'var(--syntax-key)' },
  { tag: [tags.string, tags.special(tags.string)], color: 'var(--syntax-string)' },
  { tag: [tags.lineComment, tags.meta], color: 'var(--muted)', fontStyle: 'italic' },
  { tag: [tags.separator, tags.punctuation, tags.squareBracket, tags.brace], color: 'var(--muted)' },
  { tag: [tags.labelName, tags.typeName, tags.keyword], color: 'var(--syntax-other)' },
]);

const theme = EditorView.theme({
  '&': {
    color: 'var(--fg)',
    backgroundColor: 'var(--bg)',
    border: '1px solid var(--line)',
    borderRadius: '6px',
    fontSize: '13px',
  },
  '&.cm-focused': { outline: '2px solid var(--accent)', outlineOffset: '1px' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', lineHeight: '1.5', minHeight: '12em' },
  '.cm-content': { caretColor: 'var(--fg)' },
  '.cm-gutters': { backgroundColor: 'var(--panel)', color: 'var(--muted)', borderRight: '1px solid var(--line)' },
  '.cm-activeLine': { backgroundColor: 'var(--sel)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--sel)', color: 'var(--fg)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: 'var(--sel)' },
  '.cm-cursor': { borderLeftColor: 'var(--fg)' },
});

/**
 * Enter at the end of a key that opens a block (`labels:`, `- name:`) starts the line its first
 * child goes on, two spaces in from the key; anywhere else Enter keeps the line's indentation.
 */
const nestAfterKey: Command = (view) => {
  const { state } = view;
  const at = state.selection.main;
  const line = state.doc.lineAt(at.head);
  if (!at.empty || at.head !== line.to || !/^\s*(- )?[^#\s][^#]*:\s*$/.test(line.text)) return false;
  const item = /^(\s*)(- )?/.exec(line.text)!;
  const indent = `${item[1]}${item[2] ? '  ' : ''}  `;
  view.dispatch({
    changes: { from: at.head, insert: `\n${indent}` },
    selection: EditorSelection.cursor(at.head + 1 + indent.length),
    scrollIntoView: true,
    userEvent: 'input',
  });
  return true;
};

export interface YamlEditorView {
  /** Puts `text` in, unless it is there already. */
  setText(text: string): void;
  destroy(): void;
}

/** An editor in `root` (a shadow root), holding `text`, telling `onChange` of each edit. */
export function createEditor(root: ShadowRoot, options: { label: string; text: string; onChange: (text: string) => void }): YamlEditorView {
  const view = new EditorView({
    root,
    parent: root,
    state: EditorState.create({
      doc: options.text,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        syntaxHighlighting(highlight),
        yaml(),
        keymap.of([{ key: 'Enter', run: nestAfterKey }, ...defaultKeymap, ...historyKeymap]),
        theme,
        // As tall as its text and its lines wrapped: the page scrolls, not a box within it (a
        // scrolling box would be one more stop for the keyboard).
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': options.label, spellcheck: 'false' }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) options.onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    setText(text) {
      if (view.state.doc.toString() === text) return;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    destroy: () => view.destroy(),
  };
}
