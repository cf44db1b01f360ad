import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { Markdown } from "./Markdown";

describe("Markdown", () => {
  it("shows HTML written by the model as text and never creates its elements", () => {
    const { container } = render(<Markdown text={'Look: <img src=x onerror="alert(1)"> <script>alert(2)</script>'} />);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    expect(container.textContent).toContain('<img src=x onerror="alert(1)">');
    expect(container.textContent).toContain("<script>");
  });

  it("drops javascript: links", () => {
    const { container } = render(<Markdown text="[click](javascript:alert(1))" />);
    const link = container.querySelector("a");
    expect(link?.getAttribute("href") ?? "").not.toContain("javascript:");
  });

  it("renders GFM tables and emphasis", () => {
    render(<Markdown text={"**bold**\n\n| a | b |\n|---|---|\n| 1 | 2 |"} />);
    expect(screen.getByText("bold").tagName).toBe("STRONG");
    expect(screen.getByRole("table")).toBeInTheDocument();
    expect(screen.getByRole("cell", { name: "2" })).toBeInTheDocument();
  });

  it("gives code blocks a copy button that copies the code", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    render(<Markdown text={"```python\nprint('hi')\n```"} />);
    await userEvent.click(screen.getByRole("button", { name: "Copy" }));
    expect(writeText).toHaveBeenCalledWith("print('hi')\n");
    expect(await screen.findByRole("button", { name: "Copied" })).toBeInTheDocument();
  });

  it("mounts an unparsed message as its text while the list is flung, then renders its Markdown", async () => {
    const text = "Deferred **reply** 7f3a";
    const { container } = render(<Markdown text={text} cache defer />);
    expect(container.querySelector("strong")).toBeNull();
    expect(container.querySelector(".plain-text")?.textContent).toBe(text);
    expect((await screen.findByText("reply")).tagName).toBe("STRONG");
    expect(container.querySelector(".plain-text")).toBeNull();
  });

  it("mounts a message already parsed as Markdown at once, even while the list is flung", () => {
    const text = "Parsed **once** 91c2";
    render(<Markdown text={text} cache />).unmount();
    const { container } = render(<Markdown text={text} cache defer />);
    expect(container.querySelector(".plain-text")).toBeNull();
    expect(screen.getByText("once").tagName).toBe("STRONG");
  });

  it("never parses a deferred message that is unmounted before its turn", async () => {
    const text = "Scrolled **past** 55e0";
    render(<Markdown text={text} cache defer />).unmount();
    await act(() => new Promise((resolve) => setTimeout(resolve, 100)));
    const { container } = render(<Markdown text={text} cache defer />);
    expect(container.querySelector(".plain-text")).not.toBeNull(); // not in the cache: it was never parsed
  });
});
