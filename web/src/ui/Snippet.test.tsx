import { render } from "@testing-library/react";
import { expect, it } from "vitest";
import { Snippet } from "./Snippet";

it("shows matches as <mark> and escaped HTML as text", () => {
  const { container } = render(<Snippet html={"a &lt;b&gt; <mark>zebra</mark> &amp; more"} />);
  expect(container.querySelector("mark")?.textContent).toBe("zebra");
  expect(container.querySelector("b")).toBeNull();
  expect(container.textContent).toBe("a <b> zebra & more");
});
