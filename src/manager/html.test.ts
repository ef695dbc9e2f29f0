import { describe, expect, it } from 'vitest';
import { esc, html } from './html.ts';

describe('html', () => {
  it('should escape text and attribute metacharacters', () => {
    expect(esc(`<script>alert("x")</script> & 'y' \``)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39; &#96;');
  });
  it('should escape interpolations but keep nested fragments', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p title="${'"><x'}">${inner}${['<', html`<br>`]}${null}${undefined}${false}${0}</p>`.value).toBe(
      '<p title="&quot;&gt;&lt;x"><b>&lt;i&gt;</b>&lt;<br>0</p>',
    );
  });
});
